//! Hardening of the vault's client side (issue 17): what Gatehouse sends to providers.

use reqwest::StatusCode;

use crate::helpers::*;
use crate::provider_stub::Stub;
use crate::vault::start;

#[tokio::test]
async fn the_resource_sent_to_a_provider_has_no_query_or_fragment() {
    let stub = Stub::start().await;
    let toml = format!(
        r#"
        [[provider]]
        id = "tools"
        label = "Tools"
        client_id = "gatehouse-test"
        client_secret = "stub-secret"
        auth_url = "{base}/auth"
        token_url = "{base}/token"
        hosts = ["tools.example.com"]
        resource = true
        "#,
        base = stub.base
    );
    let app = spawn_app_with_file(
        &toml,
        &[("GATEHOUSE_ALLOW_PRIVATE_NETWORKS", "127.0.0.0/8")],
    )
    .await;
    let admin = app.browser();
    let res = admin
        .setup(app.setup_code.as_deref().unwrap(), ADMIN, ADMIN_PASSWORD)
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    // The upstream URL carries a key in its query (many hosted MCP servers work so).
    let res = admin
        .add_server("tools", "https://tools.example.com/mcp?api_key=SECRET")
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let provider_url = start(&admin, "tools").await;
    let url = url::Url::parse(&provider_url).unwrap();
    let resource: Vec<String> = url
        .query_pairs()
        .filter(|(k, _)| k == "resource")
        .map(|(_, v)| v.into_owned())
        .collect();
    assert_eq!(resource, ["https://tools.example.com/mcp"]);
    assert!(!provider_url.contains("SECRET"), "{provider_url}");
}
