//! The route table in `shared::routes` is the one declaration of the API's routes: template.yaml
//! (which API Gateway routes by), openapi.yaml and the CORS methods must say the same. A route
//! added in one place and not the others fails here.

use std::collections::BTreeSet;

use shared::routes::ROUTES;

fn repo_file(name: &str) -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn resource_of(function: shared::routes::Function) -> String {
    let name = function.name();
    format!("{}{}Function", name[..1].to_uppercase(), &name[1..])
}

/// (resource, method, path) of every `HttpApi` event in template.yaml. The template is
/// CloudFormation YAML with tags (`!Ref`), so it is read line by line: resources sit at two
/// spaces, an event's `Method:` precedes its `Path:`.
fn template_routes() -> BTreeSet<(String, String, String)> {
    let mut routes = BTreeSet::new();
    let mut resource = String::new();
    let mut method: Option<String> = None;
    for line in repo_file("template.yaml").lines() {
        if let Some(name) = line.strip_prefix("  ").and_then(|l| l.strip_suffix(':')) {
            if !name.starts_with(' ') {
                resource = name.to_owned();
            }
        }
        let trimmed = line.trim();
        if let Some(m) = trimmed.strip_prefix("Method: ") {
            method = Some(m.to_owned());
        } else if let Some(path) = trimmed.strip_prefix("Path: ") {
            if let Some(m) = method.take() {
                routes.insert((resource.clone(), m, path.to_owned()));
            }
        }
    }
    routes
}

#[test]
fn template_yaml_routes_exactly_the_route_table_to_the_right_functions() {
    let mut expected = BTreeSet::new();
    for def in ROUTES {
        let resource = resource_of(def.target.function());
        for path in [def.path.to_owned(), format!("{}/", def.path)] {
            expected.insert((resource.clone(), def.method.to_owned(), path));
        }
    }
    let mut found = template_routes();
    found.retain(|(_, _, path)| path != "$default");
    assert_eq!(found, expected);
}

#[test]
fn openapi_yaml_describes_exactly_the_route_table() {
    let mut found = BTreeSet::new();
    let mut path: Option<String> = None;
    for line in repo_file("openapi.yaml").lines() {
        if let Some(p) = line.strip_prefix("  /").and_then(|l| l.strip_suffix(':')) {
            path = Some(format!("/{p}"));
            continue;
        }
        if !line.is_empty() && !line.starts_with("  ") {
            path = None;
        }
        if let (Some(p), Some(method)) = (
            &path,
            line.strip_prefix("    ").and_then(|l| l.strip_suffix(':')),
        ) {
            if ["get", "post", "put", "delete", "patch"].contains(&method) {
                found.insert((method.to_uppercase(), p.clone()));
            }
        }
    }
    let expected: BTreeSet<(String, String)> = ROUTES
        .iter()
        .map(|def| (def.method.to_owned(), format!("{}/", def.path)))
        .collect();
    assert_eq!(found, expected);
}

#[test]
fn cors_allows_every_routed_method() {
    let allowed: BTreeSet<&str> = local::cors::ALLOW_METHODS.split(", ").collect();
    for method in shared::routes::methods() {
        assert!(allowed.contains(method), "CORS does not allow {method}");
    }
    let template = repo_file("template.yaml");
    let line = template
        .lines()
        .find(|l| l.trim_start().starts_with("allowMethods:"))
        .expect("template.yaml declares CORS methods");
    for method in shared::routes::methods() {
        assert!(
            line.contains(method),
            "template CORS does not allow {method}: {line}"
        );
    }
}
