//! A hotline on a real listener, pointed at the provider stand-in, with its call
//! loop running: what the voice and SMS tests drive.

use quietline::AppState;
use quietline::store::calls as calls_db;

use super::provider::{self, Person, StandIn};
use super::{Backend, TestEnv, eventually};

pub struct Line {
    pub env: TestEnv,
    pub state: AppState,
    pub standin: StandIn,
    pub url: String,
    pub tasks: Vec<tokio::task::JoinHandle<()>>,
    /// Every setting the server runs with, for commands that must match it.
    settings: Vec<(String, String)>,
}

impl Drop for Line {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

/// The settings that point a server at the stand-in.
pub fn settings<'a>(url: &'a str, standin: &'a StandIn, languages: &'a str) -> [(&'static str, &'a str); 6] {
    [
        ("QUIETLINE_PUBLIC_URL", url),
        ("QUIETLINE_HOTLINE_NUMBER", provider::HOTLINE),
        ("QUIETLINE_PROVIDER_ACCOUNT_SID", provider::ACCOUNT_SID),
        ("QUIETLINE_PROVIDER_AUTH_TOKEN", provider::AUTH_TOKEN),
        ("QUIETLINE_PROVIDER_API_BASE", &standin.base),
        ("QUIETLINE_LANGUAGES", languages),
    ]
}

/// A server on a real listener, its call loop, and the stand-in provider.
pub async fn line(backend: Backend, languages: &str) -> Line {
    line_with(backend, languages, &[]).await
}

/// Like `line`, with more settings.
pub async fn line_with(backend: Backend, languages: &str, extra: &[(&str, &str)]) -> Line {
    let env = TestEnv::new(backend).await;
    let standin = StandIn::start().await;
    // The default 30 s ring timeout passes in 3 s here.
    standin.set_dial_second(std::time::Duration::from_millis(100));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    standin.set_server(&url);
    let mut all: Vec<(String, String)> =
        settings(&url, &standin, languages).iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    all.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    let pairs: Vec<(&str, &str)> = all.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let state = env.state_with(&pairs).await;
    let server = tokio::spawn({
        let state = state.clone();
        async move {
            quietline::serve(listener, state, std::future::pending()).await.unwrap();
        }
    });
    let ticker = tokio::spawn(quietline::ticks::run(state.clone()));
    Line { env, state, standin, url, tasks: vec![server, ticker], settings: all }
}

impl Line {
    /// Runs a command with the server's own settings.
    pub async fn cli(&self, args: &[&str]) -> Result<String, String> {
        let pairs: Vec<(&str, &str)> = self.settings.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        self.env.cli_with(args, &pairs).await
    }

    pub async fn volunteer(&self, alias: &str, phone: &str, roles: &str, languages: &str, person: Person) {
        self.env.add_volunteer(alias, phone, roles, languages, None).await;
        self.env.cli(&["shift", "on", alias]).await.unwrap();
        self.standin.person(phone, person);
    }

    /// Waits until the caller's call has ended at the stand-in and, once its
    /// status callback is through, at the server (bounded).
    pub async fn until_ended(&self, sid: &str) {
        let ended = eventually(|| async {
            self.standin.call(sid).is_some_and(|c| c.status == "completed")
                && calls_db::get_by_sid(self.state.db.pool(), sid)
                    .await
                    .unwrap()
                    .is_none_or(|r| r.state == quietline::states::CallState::Ended)
        })
        .await;
        assert!(ended, "call {sid} did not end; events:\n{}", self.standin.events().join("\n"));
    }

    pub async fn until(&self, what: &str, check: impl Fn(&StandIn) -> bool) {
        let happened = eventually(|| async { check(&self.standin) }).await;
        assert!(happened, "{what} did not happen; events:\n{}", self.standin.events().join("\n"));
    }

    pub async fn call_row(&self, caller_sid: &str) -> calls_db::CallRow {
        calls_db::get_by_sid(self.state.db.pool(), caller_sid).await.unwrap().expect("call row")
    }

    pub async fn alias_of(&self, id: Option<i64>) -> Option<String> {
        let id = id?;
        quietline::roster::get_by_id(&self.state.db, id).await.unwrap().map(|v| v.alias.to_string())
    }

    /// The stand-in leg that rang `phone`, if any.
    /// The latest call to `phone` (a tier's phones ring again after one of them
    /// picked up and did not take the call).
    pub fn leg_to(&self, phone: &str) -> Option<provider::SimCall> {
        let mut legs: Vec<provider::SimCall> =
            self.standin.calls().into_iter().filter(|c| !c.inbound && c.to == phone).collect();
        legs.sort_by_key(|c| c.placed_at);
        legs.pop()
    }
}
