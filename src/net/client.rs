//! The guarded HTTP client: every outbound request of Gatehouse goes through it. Its DNS
//! resolver drops restricted addresses and hands reqwest only the checked ones, so the
//! connection is pinned to what was checked (no re-resolution, no rebinding). No redirects
//! are followed and no proxy from the environment is used; https is required except to
//! ranges an operator explicitly allowed.

use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use ipnet::IpNet;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use url::{Host, Url};

use super::classify::is_allowed;

pub type LookupFuture = Pin<Box<dyn Future<Output = std::io::Result<Vec<IpAddr>>> + Send>>;

/// Name resolution, injectable so tests can answer with restricted addresses without ever
/// connecting to them.
pub trait Lookup: Send + Sync + 'static {
    fn lookup(&self, host: &str) -> LookupFuture;
}

/// The operating system's resolver.
pub struct SystemLookup;

impl Lookup for SystemLookup {
    fn lookup(&self, host: &str) -> LookupFuture {
        let host = host.to_owned();
        Box::pin(async move {
            Ok(tokio::net::lookup_host((host.as_str(), 0))
                .await?
                .map(|a| a.ip())
                .collect())
        })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum NetError {
    #[error("only https URLs may be fetched (http only to explicitly allowed private networks)")]
    Scheme,
    #[error("{0} resolves to an address Gatehouse may not connect to (private, loopback, link-local or reserved)")]
    Restricted(String),
    #[error("cannot resolve {0}")]
    Unresolvable(String),
    #[error("cannot read the extra CA certificate: {0}")]
    Certificate(String),
    #[error("request failed: {0}")]
    Request(#[from] reqwest::Error),
}

struct GuardedResolver {
    lookup: Arc<dyn Lookup>,
    allow: Arc<Vec<IpNet>>,
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let (lookup, allow) = (self.lookup.clone(), self.allow.clone());
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let addrs = lookup.lookup(&host).await?;
            let permitted: Vec<SocketAddr> = addrs
                .into_iter()
                .filter(|ip| is_allowed(*ip, &allow))
                .map(|ip| SocketAddr::new(ip, 0))
                .collect();
            if permitted.is_empty() {
                return Err(Box::new(NetError::Restricted(host))
                    as Box<dyn std::error::Error + Send + Sync>);
            }
            Ok(Box::new(permitted.into_iter()) as Addrs)
        })
    }
}

#[derive(Clone)]
pub struct GuardedClient {
    http: reqwest::Client,
    lookup: Arc<dyn Lookup>,
    allow: Arc<Vec<IpNet>>,
}

impl GuardedClient {
    /// A client for short exchanges (metadata, tokens): 30 s for the whole request.
    pub fn new(
        allow: Vec<IpNet>,
        extra_ca: Option<&Path>,
        lookup: Arc<dyn Lookup>,
    ) -> Result<Self, NetError> {
        Self::build(allow, extra_ca, lookup, None)
    }

    /// A client for the gateway: responses may stream for as long as data keeps coming, so
    /// only the wait between reads is bounded (`read_timeout`), not the whole request.
    pub fn streaming(
        allow: Vec<IpNet>,
        extra_ca: Option<&Path>,
        lookup: Arc<dyn Lookup>,
        read_timeout: Duration,
    ) -> Result<Self, NetError> {
        Self::build(allow, extra_ca, lookup, Some(read_timeout))
    }

    fn build(
        allow: Vec<IpNet>,
        extra_ca: Option<&Path>,
        lookup: Arc<dyn Lookup>,
        read_timeout: Option<Duration>,
    ) -> Result<Self, NetError> {
        let allow = Arc::new(allow);
        let mut builder = reqwest::Client::builder()
            .dns_resolver(Arc::new(GuardedResolver {
                lookup: lookup.clone(),
                allow: allow.clone(),
            }))
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .connect_timeout(Duration::from_secs(5))
            .user_agent(concat!("Gatehouse/", env!("CARGO_PKG_VERSION")));
        builder = match read_timeout {
            Some(wait) => builder.read_timeout(wait),
            None => builder.timeout(Duration::from_secs(30)),
        };
        if let Some(path) = extra_ca {
            let pem = std::fs::read(path)
                .map_err(|e| NetError::Certificate(format!("{}: {e}", path.display())))?;
            let cert = reqwest::Certificate::from_pem(&pem)
                .map_err(|e| NetError::Certificate(e.to_string()))?;
            builder = builder.add_root_certificate(cert);
        }
        Ok(Self {
            http: builder.build()?,
            lookup,
            allow,
        })
    }

    /// Checks what the resolver cannot: the scheme, and hosts written as IP literals (reqwest
    /// connects to those without asking the resolver).
    #[cfg(test)]
    pub async fn check_url(&self, url: &Url) -> Result<(), NetError> {
        self.checked(url).await.map(|_| ())
    }

    /// [`check_url`](Self::check_url), returning for plain http the address the check
    /// accepted: the request must go there, not to what a second lookup might answer.
    async fn checked(&self, url: &Url) -> Result<Option<IpAddr>, NetError> {
        let host = url.host().ok_or(NetError::Scheme)?;
        let literal = match host {
            Host::Ipv4(ip) => Some(IpAddr::V4(ip)),
            Host::Ipv6(ip) => Some(IpAddr::V6(ip)),
            Host::Domain(_) => None,
        };
        let shown = url.host_str().unwrap_or_default().to_owned();
        match url.scheme() {
            "https" => match literal {
                Some(ip) if !is_allowed(ip, &self.allow) => Err(NetError::Restricted(shown)),
                _ => Ok(None),
            },
            // Plain http only where every address is in an explicitly allowed private range.
            "http" => {
                let addrs = match literal {
                    Some(ip) => vec![ip],
                    None => self
                        .lookup
                        .lookup(&shown)
                        .await
                        .map_err(|_| NetError::Unresolvable(shown.clone()))?,
                };
                let explicitly_allowed =
                    |ip: &IpAddr| self.allow.iter().any(|net| net.contains(ip));
                match addrs.first() {
                    Some(first) if addrs.iter().all(explicitly_allowed) => Ok(Some(*first)),
                    _ => Err(NetError::Scheme),
                }
            }
            _ => Err(NetError::Scheme),
        }
    }

    /// A request builder for `url`, after the checks above. Https connections are pinned by
    /// the resolver; a plain-http one (allowed private ranges only) goes to the very address
    /// that was checked, its name kept in `Host`: a name that changes its answer between the
    /// check and the connection (DNS rebinding) cannot move it, e.g. to a public host.
    pub async fn request(
        &self,
        method: reqwest::Method,
        url: Url,
    ) -> Result<reqwest::RequestBuilder, NetError> {
        match self.checked(&url).await? {
            Some(ip) if matches!(url.host(), Some(Host::Domain(_))) => {
                let host = url.authority().to_owned();
                let mut pinned = url;
                pinned
                    .set_ip_host(ip)
                    .map_err(|()| NetError::Unresolvable(host.clone()))?;
                Ok(self
                    .http
                    .request(method, pinned)
                    .header(reqwest::header::HOST, host))
            }
            _ => Ok(self.http.request(method, url)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Answers every name with fixed addresses; nothing is ever connected to for restricted
    /// answers because the resolver refuses them first.
    struct Fixed(Vec<IpAddr>);

    impl Lookup for Fixed {
        fn lookup(&self, _host: &str) -> LookupFuture {
            let addrs = self.0.clone();
            Box::pin(async move { Ok(addrs) })
        }
    }

    /// Answers the first lookup with one address and every later one with another: a name
    /// rebinding between Gatehouse's check and the connection.
    struct Rebinding {
        first: IpAddr,
        then: IpAddr,
        calls: std::sync::atomic::AtomicUsize,
    }

    impl Lookup for Rebinding {
        fn lookup(&self, _host: &str) -> LookupFuture {
            let n = self.calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let addr = if n == 0 { self.first } else { self.then };
            Box::pin(async move { Ok(vec![addr]) })
        }
    }

    #[tokio::test]
    async fn plain_http_goes_to_the_address_that_was_checked() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let seen_host = Arc::new(std::sync::Mutex::new(String::new()));
        let seen = seen_host.clone();
        let app = axum::Router::new().route(
            "/",
            axum::routing::get(move |headers: axum::http::HeaderMap| {
                let seen = seen.clone();
                async move {
                    *seen.lock().unwrap() = headers["host"].to_str().unwrap().to_owned();
                    "pinned"
                }
            }),
        );
        tokio::spawn(async move { axum::serve(listener, app).await });
        // 127.0.0.1 is allowed and checked; 10.9.9.9 is neither (a later answer would be
        // refused by the resolver: nothing ever connects to it).
        let lookup = Arc::new(Rebinding {
            first: "127.0.0.1".parse().unwrap(),
            then: "10.9.9.9".parse().unwrap(),
            calls: Default::default(),
        });
        let c = GuardedClient::new(vec!["127.0.0.0/8".parse().unwrap()], None, lookup).unwrap();
        let res = get(&c, &format!("http://upstream.internal:{port}/"))
            .await
            .unwrap();
        assert_eq!(res.text().await.unwrap(), "pinned");
        assert_eq!(
            *seen_host.lock().unwrap(),
            format!("upstream.internal:{port}")
        );
    }

    fn client(answers: &[&str], allow: &[&str]) -> GuardedClient {
        let lookup = Arc::new(Fixed(answers.iter().map(|a| a.parse().unwrap()).collect()));
        GuardedClient::new(
            allow.iter().map(|a| a.parse().unwrap()).collect(),
            None,
            lookup,
        )
        .unwrap()
    }

    fn is_restricted(err: &NetError) -> bool {
        match err {
            NetError::Restricted(_) => true,
            NetError::Request(e) => {
                let mut source: Option<&dyn std::error::Error> = Some(e);
                while let Some(s) = source {
                    if s.to_string().contains("may not connect") {
                        return true;
                    }
                    source = s.source();
                }
                false
            }
            _ => false,
        }
    }

    async fn get(c: &GuardedClient, url: &str) -> Result<reqwest::Response, NetError> {
        Ok(c.request(reqwest::Method::GET, Url::parse(url).unwrap())
            .await?
            .send()
            .await?)
    }

    #[tokio::test]
    async fn names_resolving_to_restricted_addresses_are_refused_before_connecting() {
        for answer in [
            "169.254.169.254",
            "10.0.0.5",
            "127.0.0.1",
            "100.64.1.1",
            "::ffff:127.0.0.1",
            "fd00:ec2::254",
            "::1",
            "0.0.0.0",
        ] {
            let c = client(&[answer], &[]);
            let err = get(&c, "https://metadata.example.test/latest")
                .await
                .unwrap_err();
            assert!(is_restricted(&err), "{answer}: {err}");
        }
    }

    #[tokio::test]
    async fn ip_literals_are_checked_too() {
        let c = client(&[], &[]);
        for url in [
            "https://169.254.169.254/",
            "https://[::1]/",
            "https://127.0.0.1:8443/",
            "https://[::ffff:a00:1]/",
        ] {
            assert!(
                matches!(
                    c.check_url(&Url::parse(url).unwrap()).await,
                    Err(NetError::Restricted(_))
                ),
                "{url}"
            );
        }
    }

    #[tokio::test]
    async fn http_is_refused_unless_every_address_is_explicitly_allowed() {
        let public = client(&["93.184.216.34"], &[]);
        assert!(matches!(
            public
                .check_url(&Url::parse("http://example.test/").unwrap())
                .await,
            Err(NetError::Scheme)
        ));
        let lan = client(&["10.1.2.3"], &["10.1.0.0/16"]);
        assert!(lan
            .check_url(&Url::parse("http://mcp.lan/").unwrap())
            .await
            .is_ok());
        let mixed = client(&["10.1.2.3", "10.9.9.9"], &["10.1.0.0/16"]);
        assert!(mixed
            .check_url(&Url::parse("http://mcp.lan/").unwrap())
            .await
            .is_err());
        for url in ["ftp://x.example/", "file:///etc/passwd", "gopher://x/"] {
            assert!(
                matches!(
                    public.check_url(&Url::parse(url).unwrap()).await,
                    Err(NetError::Scheme)
                ),
                "{url}"
            );
        }
    }

    #[tokio::test]
    async fn allowed_loopback_server_is_reached_and_redirects_are_not_followed() {
        use axum::{response::Redirect, routing::get as route, Router};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let app = Router::new()
            .route("/ok", route(|| async { "hello" }))
            .route(
                "/hop",
                route(|| async { Redirect::temporary("http://169.254.169.254/") }),
            );
        tokio::spawn(async move { axum::serve(listener, app).await });
        let c = client(&["127.0.0.1"], &["127.0.0.1/32"]);
        let ok = get(&c, &format!("http://gatehouse-test.local:{port}/ok"))
            .await
            .unwrap();
        assert_eq!(ok.text().await.unwrap(), "hello");
        let hop = get(&c, &format!("http://gatehouse-test.local:{port}/hop"))
            .await
            .unwrap();
        assert_eq!(hop.status(), 307, "the redirect is returned, not followed");
        let closed = client(&["127.0.0.1"], &[]);
        assert!(
            get(&closed, &format!("http://gatehouse-test.local:{port}/ok"))
                .await
                .is_err(),
            "without the allow-list loopback is off limits"
        );
    }
}
