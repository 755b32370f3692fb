//! Creates the tables on DynamoDB Local as template.yaml creates them on AWS, and seeds the demo job.

use aws_sdk_dynamodb::config::http::HttpResponse;
use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::RequestId;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, GlobalSecondaryIndex, KeySchemaElement,
    KeyType, Projection, ProjectionType, ScalarAttributeType, TimeToLiveSpecification,
};
use aws_sdk_dynamodb::Client;
use shared::store::dynamo::DynamoStore;
use shared::store::keys::SWEEP_INDEX;
use shared::{Config, Deps};

/// The demo job `make run` seeds, owned by `demo-user`.
pub const DEMO_JOB_ID: &str = "5e0d9c1a-7d43-4c4e-9a57-8f3b2a1c0d42";
pub const DEMO_OWNER: &str = "demo-user";

type BoxError = Box<dyn std::error::Error + Send + Sync>;

fn key(name: &str, key_type: KeyType) -> Result<KeySchemaElement, BoxError> {
    Ok(KeySchemaElement::builder()
        .attribute_name(name)
        .key_type(key_type)
        .build()?)
}

fn string_attribute(name: &str) -> Result<AttributeDefinition, BoxError> {
    Ok(AttributeDefinition::builder()
        .attribute_name(name)
        .attribute_type(ScalarAttributeType::S)
        .build()?)
}

/// Names separated by commas or spaces, or both (`make token GROUPS=`, `make job MEMBERS=`):
/// `staff,admin`, `"bob carol"`, `"bob, carol"`.
pub fn names<'a>(lists: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    lists
        .into_iter()
        .flat_map(|list| list.split(|c: char| c == ',' || c.is_whitespace()))
        .filter(|name| !name.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Why the endpoint of DynamoDB Local cannot be used.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Unusable {
    /// Nothing answers (connection refused, or no answer in time).
    Unreachable,
    /// Something answers, but not as DynamoDB does (another HTTP server on the port).
    NotDynamoDb { status: u16, server: Option<String> },
    /// DynamoDB answered with an error.
    Failed(String),
}

impl std::fmt::Display for Unusable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Unreachable => write!(f, "nothing answers"),
            // What answered instead: "HTTP 501, Server: SimpleHTTP/0.6 Python/3.11.7".
            Self::NotDynamoDb { status, server } => {
                write!(f, "HTTP {status}")?;
                match server {
                    Some(server) => write!(f, ", Server: {server}"),
                    None => Ok(()),
                }
            }
            Self::Failed(error) => write!(f, "DynamoDB answered an error: {error}"),
        }
    }
}

fn not_dynamodb(raw: &HttpResponse) -> Unusable {
    Unusable::NotDynamoDb {
        status: raw.status().as_u16(),
        server: raw.headers().get("server").map(str::to_owned),
    }
}

/// Checks that the endpoint answers a ListTables as DynamoDB does (with a request id and a
/// table list), so that another HTTP server on the port is named as such, not as a bare
/// "service error" later.
pub async fn check_dynamodb(client: &Client) -> Result<(), Unusable> {
    match client.list_tables().limit(1).send().await {
        Ok(out) if out.request_id().is_some() && out.table_names.is_some() => Ok(()),
        Ok(_) => Err(Unusable::NotDynamoDb {
            status: 200,
            server: None,
        }),
        Err(SdkError::ServiceError(err)) => {
            if err.raw().headers().get("x-amzn-requestid").is_some() && err.err().code().is_some() {
                Err(Unusable::Failed(DisplayErrorContext(err.err()).to_string()))
            } else {
                Err(not_dynamodb(err.raw()))
            }
        }
        Err(SdkError::ResponseError(err)) => Err(not_dynamodb(err.raw())),
        Err(SdkError::DispatchFailure(_) | SdkError::TimeoutError(_)) => Err(Unusable::Unreachable),
        Err(other) => Err(Unusable::Failed(DisplayErrorContext(other).to_string())),
    }
}

/// The SDK's error with its causes ("service error" alone says nothing).
fn described<E: std::error::Error + Send + Sync + 'static>(err: E) -> BoxError {
    DisplayErrorContext(err).to_string().into()
}

/// Creates both tables unless they exist, and enables TTL on `expires_at`.
pub async fn ensure_tables(client: &Client, messages: &str, jobs: &str) -> Result<(), BoxError> {
    // The sparse index of chats the sweep must visit (see shared::store::dynamo::sweep).
    let sweep_index = GlobalSecondaryIndex::builder()
        .index_name(SWEEP_INDEX)
        .key_schema(key("sweep_due", KeyType::Hash)?)
        .key_schema(key("job_id", KeyType::Range)?)
        .projection(
            Projection::builder()
                .projection_type(ProjectionType::KeysOnly)
                .build(),
        )
        .build()?;
    let created = client
        .create_table()
        .table_name(messages)
        .billing_mode(BillingMode::PayPerRequest)
        .key_schema(key("job_id", KeyType::Hash)?)
        .key_schema(key("sk", KeyType::Range)?)
        .attribute_definitions(string_attribute("job_id")?)
        .attribute_definitions(string_attribute("sk")?)
        .attribute_definitions(string_attribute("sweep_due")?)
        .global_secondary_indexes(sweep_index)
        .send()
        .await;
    match created {
        Ok(_) => {
            client
                .update_time_to_live()
                .table_name(messages)
                .time_to_live_specification(
                    TimeToLiveSpecification::builder()
                        .attribute_name("expires_at")
                        .enabled(true)
                        .build()?,
                )
                .send()
                .await
                .map_err(described)?;
        }
        Err(err) if err.code() == Some("ResourceInUseException") => {}
        Err(err) => return Err(described(err)),
    }
    let created = client
        .create_table()
        .table_name(jobs)
        .billing_mode(BillingMode::PayPerRequest)
        .key_schema(key("job_id", KeyType::Hash)?)
        .attribute_definitions(string_attribute("job_id")?)
        .send()
        .await;
    match created {
        Ok(_) => Ok(()),
        Err(err) if err.code() == Some("ResourceInUseException") => Ok(()),
        Err(err) => Err(described(err)),
    }
}

/// The production dependencies on `config`'s tables, created first unless they exist.
pub async fn deps_on_own_tables(config: &Config) -> Result<Deps<DynamoStore>, BoxError> {
    let deps = config.deps().await;
    ensure_tables(
        deps.store.client(),
        &config.messages_table,
        &config.jobs_table,
    )
    .await?;
    Ok(deps)
}

/// Writes a job item in the shape of the existing jobs table.
pub async fn put_job(
    client: &Client,
    jobs: &str,
    job_id: &str,
    owner: &str,
    members: &[String],
) -> Result<(), BoxError> {
    let mut put = client
        .put_item()
        .table_name(jobs)
        .item("job_id", AttributeValue::S(job_id.to_owned()))
        .item("owner_id", AttributeValue::S(owner.to_owned()));
    if !members.is_empty() {
        put = put.item("member_ids", AttributeValue::Ss(members.to_vec()));
    }
    put.send().await.map_err(described)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_dynamodb::config::retry::RetryConfig;
    use aws_sdk_dynamodb::config::{BehaviorVersion, Credentials, Region};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[test]
    fn names_are_split_on_commas_and_spaces() {
        let expected = vec!["bob".to_owned(), "carol".to_owned()];
        assert_eq!(names(["bob carol"]), expected);
        assert_eq!(names(["bob,carol"]), expected);
        assert_eq!(names([" bob, carol ,"]), expected);
        assert_eq!(names(["bob", "carol"]), expected);
        assert!(names([""]).is_empty());
    }

    fn client(port: u16) -> Client {
        let config = aws_sdk_dynamodb::Config::builder()
            .behavior_version(BehaviorVersion::v2026_01_12())
            .endpoint_url(format!("http://127.0.0.1:{port}"))
            .region(Region::new("us-east-1"))
            .credentials_provider(Credentials::new("local", "local", None, None, "test"))
            .retry_config(RetryConfig::disabled())
            .build();
        Client::from_conf(config)
    }

    #[tokio::test]
    async fn another_http_server_is_not_taken_for_dynamodb() {
        // What `python3 -m http.server` answers to a POST.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                let mut buffer = [0u8; 4096];
                let _ = stream.read(&mut buffer).await;
                let body = "<html><body>Unsupported method</body></html>";
                let answer = format!(
                    "HTTP/1.0 501 Unsupported method ('POST')\r\nServer: SimpleHTTP/0.6\r\n\
                     Content-Type: text/html\r\nContent-Length: {}\r\n\r\n{body}",
                    body.len()
                );
                let _ = stream.write_all(answer.as_bytes()).await;
            }
        });
        let problem = check_dynamodb(&client(port)).await.unwrap_err();
        assert_eq!(
            problem,
            Unusable::NotDynamoDb {
                status: 501,
                server: Some("SimpleHTTP/0.6".into())
            }
        );
        assert_eq!(problem.to_string(), "HTTP 501, Server: SimpleHTTP/0.6");
    }

    #[tokio::test]
    async fn a_closed_port_is_unreachable() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        drop(listener);
        assert_eq!(
            check_dynamodb(&client(port)).await.unwrap_err(),
            Unusable::Unreachable
        );
    }
}
