//! The field names a Kubernetes API type has at a path, asked of the type itself: its
//! `Deserialize` names its fields when it asks for a struct. A probe deserializer walks the
//! path (one map entry per segment, one element per list index, `Some` for optional fields)
//! and records the names the struct at the end asks for. The same types GN001 reads objects
//! with, so the suggestions are exactly the fields the check accepts.

use serde::de::value::{Error, StringDeserializer};
use serde::de::{self, DeserializeOwned, DeserializeSeed, IntoDeserializer, Visitor};
use serde::forward_to_deserialize_any;

type Fields = &'static [&'static str];

/// The field names of the object at `segs` (keys and list indexes) inside a `T`; `None` when
/// the path does not lead to a struct of `T` (a map, a scalar, a field `T` does not have).
pub fn fields_at<T: DeserializeOwned>(segs: &[String]) -> Option<Fields> {
    let mut found = None;
    let _ = T::deserialize(Probe {
        segs,
        found: &mut found,
    });
    found
}

struct Probe<'a> {
    segs: &'a [String],
    found: &'a mut Option<Fields>,
}

fn stop<T>() -> Result<T, Error> {
    Err(de::Error::custom("probe stops here"))
}

impl<'de> de::Deserializer<'de> for Probe<'_> {
    type Error = Error;

    fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Error> {
        stop()
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        fields: Fields,
        visitor: V,
    ) -> Result<V::Value, Error> {
        match self.segs.split_first() {
            None => {
                *self.found = Some(fields);
                stop()
            }
            Some((key, rest)) => visitor.visit_map(Entry {
                key: Some(key.clone()),
                value: Some(Probe {
                    segs: rest,
                    found: self.found,
                }),
            }),
        }
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.segs.split_first() {
            None => stop(),
            Some((key, rest)) => visitor.visit_map(Entry {
                key: Some(key.clone()),
                value: Some(Probe {
                    segs: rest,
                    found: self.found,
                }),
            }),
        }
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.segs.split_first() {
            Some((_, rest)) => visitor.visit_seq(Element(Some(Probe {
                segs: rest,
                found: self.found,
            }))),
            None => stop(),
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_some(self)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        visitor: V,
    ) -> Result<V::Value, Error> {
        visitor.visit_newtype_struct(self)
    }

    forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        unit unit_struct tuple tuple_struct enum identifier ignored_any
    }
}

/// A map of one entry: the next key of the path, and the probe for the rest as its value.
struct Entry<'a> {
    key: Option<String>,
    value: Option<Probe<'a>>,
}

impl<'de> de::MapAccess<'de> for Entry<'_> {
    type Error = Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, Error> {
        match self.key.take() {
            Some(k) => {
                let de: StringDeserializer<Error> = k.into_deserializer();
                seed.deserialize(de).map(Some)
            }
            None => Ok(None),
        }
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, Error> {
        match self.value.take() {
            Some(p) => seed.deserialize(p),
            None => stop(),
        }
    }
}

/// A list of one element: the probe for the rest of the path.
struct Element<'a>(Option<Probe<'a>>);

impl<'de> de::SeqAccess<'de> for Element<'_> {
    type Error = Error;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, Error> {
        match self.0.take() {
            Some(p) => seed.deserialize(p).map(Some),
            None => Ok(None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::fields_at;
    use k8s_openapi::api::apps::v1::DaemonSet;

    fn at(path: &[&str]) -> Option<Vec<&'static str>> {
        let segs: Vec<String> = path.iter().map(|s| s.to_string()).collect();
        fields_at::<DaemonSet>(&segs).map(|f| f.to_vec())
    }

    #[test]
    fn names_the_fields_of_the_struct_at_a_path() {
        assert!(at(&[]).unwrap().contains(&"spec"));
        let pod = at(&["spec", "template", "spec"]).unwrap();
        assert!(
            pod.contains(&"hostPID") && pod.contains(&"dnsPolicy"),
            "{pod:?}"
        );
        let container = at(&["spec", "template", "spec", "containers", "0"]).unwrap();
        assert!(container.contains(&"ports") && container.contains(&"image"));
        let port = at(&["spec", "template", "spec", "containers", "3", "ports", "0"]).unwrap();
        assert!(port.contains(&"containerPort") && port.contains(&"hostIP"));
        // Not a struct: a map of labels, a scalar, a field the type does not have.
        assert_eq!(at(&["metadata", "labels"]), None);
        assert_eq!(at(&["spec", "minReadySeconds"]), None);
        assert_eq!(at(&["spec", "nope"]), None);
    }
}
