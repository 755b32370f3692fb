//! Creates the tables on DynamoDB Local as template.yaml creates them on AWS, and seeds the demo job.

use aws_sdk_dynamodb::error::ProvideErrorMetadata;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, GlobalSecondaryIndex, KeySchemaElement,
    KeyType, Projection, ProjectionType, ScalarAttributeType, TimeToLiveSpecification,
};
use aws_sdk_dynamodb::Client;
use shared::store::keys::SWEEP_INDEX;

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
                .await?;
        }
        Err(err) if err.code() == Some("ResourceInUseException") => {}
        Err(err) => return Err(err.into()),
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
        Err(err) => Err(err.into()),
    }
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
    put.send().await?;
    Ok(())
}
