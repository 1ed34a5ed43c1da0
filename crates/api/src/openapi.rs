//! The OpenAPI 3 document, maintained by hand next to the router (a
//! generator would add a heavy dependency); a test beside the route table
//! (`routes.rs`) keeps the two in step: every route is documented with its
//! path parameters, and the document names no route that does not exist.

pub const DOCUMENT: &str = include_str!("openapi.json");
