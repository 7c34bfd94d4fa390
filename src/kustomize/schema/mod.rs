//! What kustomize knows of kinds: the OpenAPI schema in use (`openapi`: merge keys and
//! custom schemas), legacy `crds:` definitions (`crds`), and which kinds are cluster-scoped
//! (`scope`).

pub mod crds;
pub mod openapi;
pub mod scope;
