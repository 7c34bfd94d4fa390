//! The patch algorithms kustomize applies: RFC 6902 JSON patches (`json_patch`) and
//! strategic merge patches with kustomize's merge keys (`merge_patch`). Which resources a
//! patch targets is `builtins/patches.rs`.

pub mod json_patch;
pub mod merge_patch;
