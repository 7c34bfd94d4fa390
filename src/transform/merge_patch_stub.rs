// TEMPORARY stub until merge_patch.rs lands.
use serde_json::Value;
pub struct SmpContext<'a> {
    pub api_version: &'a str,
    pub kind: &'a str,
}
#[derive(Debug, PartialEq, Eq, Clone, Copy)]
pub enum Outcome {
    Merged,
    DeleteResource,
}
pub fn apply(target: &mut Value, patch: &Value, _ctx: &SmpContext) -> Result<Outcome, String> {
    json_patch::merge(target, patch);
    Ok(Outcome::Merged)
}
