//! Builds requests the way API Gateway's HTTP API delivers them to a Lambda: path parameters
//! and the JWT authorizer's claims (all strings) in the request context. The local server and
//! the tests use it so that handlers always see the deployed shape.

use std::collections::HashMap;

use lambda_http::aws_lambda_events::apigw::{
    ApiGatewayRequestAuthorizer, ApiGatewayRequestAuthorizerJwtDescription,
    ApiGatewayV2httpRequestContext,
};
use lambda_http::request::RequestContext;
use lambda_http::{Request, RequestExt};

/// Puts path parameters, the request id and (if any) the caller's claims on a request.
pub fn deliver(
    req: Request,
    path_parameters: HashMap<String, String>,
    claims: Option<HashMap<String, String>>,
    request_id: String,
) -> Request {
    let mut context = ApiGatewayV2httpRequestContext::default();
    context.request_id = Some(request_id);
    context.http.method = req.method().clone();
    context.http.path = Some(req.uri().path().to_owned());
    if let Some(claims) = claims {
        let mut jwt = ApiGatewayRequestAuthorizerJwtDescription::default();
        jwt.claims = claims;
        let mut authorizer = ApiGatewayRequestAuthorizer::default();
        authorizer.jwt = Some(jwt);
        context.authorizer = Some(authorizer);
    }
    let query: HashMap<String, String> = req.uri().query().map(parse_query).unwrap_or_default();
    req.with_path_parameters(path_parameters)
        .with_query_string_parameters(query)
        .with_request_context(RequestContext::ApiGatewayV2(context))
}

/// API Gateway decodes the query string; the first value of a repeated name wins here, as in
/// `QueryMap::first`.
fn parse_query(query: &str) -> HashMap<String, String> {
    let mut map = HashMap::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        map.entry(percent_decode(name))
            .or_insert_with(|| percent_decode(value));
    }
    map
}

/// Form-urlencoded, as lambda_http reads `rawQueryString`: `+` is a space, a `%` not followed
/// by two hex digits stays as it is, and bytes that are not UTF-8 become U+FFFD.
fn percent_decode(text: &str) -> String {
    percent_encoding::percent_decode_str(&text.replace('+', " "))
        .decode_utf8_lossy()
        .into_owned()
}

/// Claims as API Gateway renders them: strings, arrays as `[a b]`.
pub fn claims(sub: &str, groups: &[&str]) -> HashMap<String, String> {
    let mut claims = HashMap::from([("sub".to_owned(), sub.to_owned())]);
    if !groups.is_empty() {
        claims.insert(
            "cognito:groups".to_owned(),
            format!("[{}]", groups.join(" ")),
        );
    }
    claims
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_strings_are_decoded() {
        let q = parse_query("limit=5&cursor=a%2Eb&order=desc&limit=9&x");
        assert_eq!(q["limit"], "5");
        assert_eq!(q["cursor"], "a.b");
        assert_eq!(q["x"], "");
        assert_eq!(percent_decode("%zz%4"), "%zz%4");
        assert_eq!(percent_decode("a+b%2B%C3%A9%FF"), "a b+é\u{fffd}");
    }
}
