//! View types shared by pages and server functions (they compile for wasm too).

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserView {
    pub username: String,
    pub is_admin: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FlashView {
    pub success: bool,
    pub text: String,
}

/// What every page needs: who is signed in, the form token, a one-shot message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PageContext {
    pub user: Option<UserView>,
    pub csrf: String,
    pub flash: Option<FlashView>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthPageData {
    pub ctx: PageContext,
    pub setup_pending: bool,
    pub open_signup: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerView {
    pub slug: String,
    pub name: String,
    /// Redacted: query strings are hidden, they often hold keys.
    pub url: String,
    /// A static credential is stored (never shown).
    pub static_credential: bool,
    /// Whose account the server needs (detected, or the user's choice).
    pub provider: String,
    /// The provider was detected from the URL (not chosen by the user).
    pub provider_detected: bool,
    /// The stored provider choice key ("detect" when none).
    pub provider_choice: String,
    pub mcp_url: String,
    pub added: String,
    pub connection: ConnectionView,
    /// The server signs in through its own authorization server (it can be checked).
    pub own_sign_in: bool,
    /// What the last *Check* found (servers with their own sign-in).
    pub discovery: Option<DiscoveryView>,
}

/// A server's own sign-in as the last probe found it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DiscoveryView {
    /// "Own sign-in", "Open", "Not usable".
    pub outcome: String,
    pub authorization_server: Option<String>,
    pub scopes: Vec<String>,
    /// How Gatehouse registered there.
    pub registration: Option<String>,
    pub message: Option<String>,
    /// "3 min ago".
    pub checked: String,
}

/// The state of a server's upstream connection, as the Servers page shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConnectionView {
    /// "Connected", "Expires soon", "Expired", "Needs re-authentication", "Not connected".
    pub state: String,
    /// CSS modifier: ok, warn, bad, none.
    pub tone: String,
    pub connected: bool,
    pub account: Option<String>,
    pub scopes: Vec<String>,
    /// "in 59 min" / "3 min ago"; `None` when the provider gave no expiry.
    pub expires: Option<String>,
    pub last_refresh: Option<String>,
    pub last_error: Option<String>,
    /// Whether *Authenticate* can start; otherwise `blocked` says why.
    pub can_authenticate: bool,
    pub blocked: Option<String>,
    /// Servers sharing this Google grant (revoking ends it for them too).
    pub shares_grant_with: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServersData {
    pub ctx: PageContext,
    pub servers: Vec<ServerView>,
    /// Provider choices offered per server: (key, label).
    pub provider_options: Vec<(String, String)>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventView {
    pub id: i64,
    pub at: String,
    pub user: Option<String>,
    pub actor: String,
    pub kind: String,
    /// The kind in plain words.
    pub what: String,
    pub server: Option<String>,
    pub client: Option<String>,
    /// "ok" or "error".
    pub outcome: String,
    pub detail: String,
    pub ip: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActivityData {
    pub ctx: PageContext,
    pub all_users: bool,
    pub events: Vec<EventView>,
    /// The filters as submitted (shown back in the form).
    pub filter: ActivityFilter,
    /// The query string of the next (older) page, if any.
    pub older: Option<String>,
    /// The query string of these filters, for the export links.
    pub query: String,
    /// Why the filters were refused, if they were.
    pub problem: Option<String>,
    /// Every event kind: (kind, plain words), for the filter.
    pub kinds: Vec<(String, String)>,
}

/// The Activity page's filters, as text fields.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActivityFilter {
    pub server: String,
    pub client: String,
    pub kind: String,
    pub outcome: String,
    pub since: String,
    pub until: String,
    pub before: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountRow {
    pub username: String,
    pub is_admin: bool,
    pub active: bool,
    pub created: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdminData {
    pub ctx: PageContext,
    pub users: Vec<AccountRow>,
    pub server_count: usize,
    pub clients: Vec<ClientAdminRow>,
}

/// The administrators' stats page.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StatsData {
    pub ctx: PageContext,
    /// (label, count) in display order.
    pub counts: Vec<(String, i64)>,
    pub last_hour: Vec<TrafficRow>,
    pub last_day: Vec<TrafficRow>,
    /// Calls per hour, oldest first: (hour label, calls, failed).
    pub hourly: Vec<(String, i64, i64)>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrafficRow {
    pub server: String,
    pub calls: i64,
    pub failed: i64,
    /// "2.5 %".
    pub error_rate: String,
    pub p50: String,
    pub p95: String,
}

/// The deployment checks (`gatehouse doctor`) as the admin page shows them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChecksData {
    pub ctx: PageContext,
    pub checks: Vec<CheckView>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckView {
    /// PASS, WARN or FAIL.
    pub verdict: String,
    pub name: String,
    pub detail: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientAdminRow {
    pub client_id: String,
    pub name: String,
    /// "metadata document" (verified host) or "registered" (DCR, unverified).
    pub kind: String,
    pub redirect_hosts: String,
    pub created: String,
    pub disabled: bool,
    pub active_grants: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InviteData {
    pub ctx: PageContext,
    /// `None` when the link is invalid, used or expired.
    pub username: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsentServerView {
    pub slug: String,
    pub name: String,
    pub selected: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsentView {
    /// What the client calls itself (untrusted for DCR clients).
    pub client_name: Option<String>,
    pub client_id: String,
    pub verified: bool,
    /// The host serving a metadata-document client's identity (verified).
    pub identity_host: Option<String>,
    /// A known client recognised by its redirect URI (e.g. "ChatGPT").
    pub label: Option<String>,
    pub redirect_host: String,
    pub loopback: bool,
    pub private_use: bool,
    pub servers: Vec<ConsentServerView>,
    /// Asked for `/mcp`: the ticked servers' tools behind one connector.
    pub aggregate: bool,
    pub unknown_resources: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ConsentState {
    /// Unknown, answered or expired request.
    Expired,
    /// The visitor must sign in first; the form returns here.
    SignIn,
    Ask(ConsentView),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsentData {
    pub ctx: PageContext,
    pub state: ConsentState,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GrantView {
    pub id: i64,
    pub client: String,
    pub verified: bool,
    pub redirect_host: String,
    pub servers: String,
    /// The slugs the grant covers (ticked in its *Change servers* form).
    pub slugs: Vec<String>,
    pub granted: String,
    pub last_used: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientsData {
    pub ctx: PageContext,
    pub grants: Vec<GrantView>,
    /// The user's servers: (slug, name), to change what a grant covers.
    pub servers: Vec<(String, String)>,
    /// The user's API keys (clients without OAuth), managed on the API keys page.
    pub keys: Vec<KeyView>,
}

/// One of the user's live API keys (never the key itself).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyView {
    pub id: i64,
    pub name: String,
    /// The first characters, to tell keys apart.
    pub prefix: String,
    /// "all servers" or the slugs it is limited to.
    pub servers: String,
    pub created: String,
    pub last_used: String,
    pub expires: String,
}

/// A key just created: the only time it is shown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewKeyView {
    pub name: String,
    pub key: String,
    pub scope: String,
    /// The servers it reaches: (slug, Gatehouse URL).
    pub endpoints: Vec<(String, String)>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeysData {
    pub ctx: PageContext,
    pub keys: Vec<KeyView>,
    /// The user's servers: (slug, name), to limit a new key to.
    pub servers: Vec<(String, String)>,
    /// A key created by a plain form post, shown this once.
    pub created: Option<NewKeyView>,
}
