//! Which repository, token and API a run talks to, resolved from flags and
//! the environment once, for the CLI and for library callers alike
//! ([`Remote::from_env`]). The token is checked here, before any client is
//! built, and never appears in a message.

use std::fmt;
use std::time::Duration;

use relkit_core::gha;
use url::Url;

use crate::Error;
use crate::github::{GitHub, Token};
use crate::retry::Policy;

/// A repository on a GitHub API, with the token to reach it and the retry
/// settings of the calls made to it.
#[derive(Clone)]
pub struct Remote {
    /// Repository owner.
    pub owner: String,
    /// Repository name.
    pub repo: String,
    /// API base URL (GitHub.com, or GHES's `…/api/v3`).
    pub api_url: Url,
    token: Token,
    /// First retry delay (doubles each retry, with jitter).
    pub retry_base: Duration,
    /// Total retry budget of one call to this remote (then exit 3).
    pub give_up: Duration,
    /// Per-request connect and read timeout.
    pub timeout: Duration,
}

impl fmt::Debug for Remote {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Remote")
            .field("repo", &self.full_name())
            .field("api_url", &self.api_url.as_str())
            .field("token", &self.token)
            .finish_non_exhaustive()
    }
}

impl Remote {
    /// Resolve the repository (`repo`, else `GITHUB_REPOSITORY`), the token
    /// (the variable `token_env` names, else `GITHUB_TOKEN`, else
    /// `GH_TOKEN`) and the API URL (`api_url`, else `GITHUB_API_URL`, else
    /// `https://api.github.com`) through `env`, exactly as the CLI does.
    /// The token is masked in GitHub Actions and never printed. Retries
    /// default to the CLI's (1 s doubling, 600 s budget, 60 s timeout).
    pub fn from_env(
        repo: Option<&str>,
        token_env: Option<&str>,
        api_url: Option<&str>,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Remote, Error> {
        let full = repo
            .map(str::to_owned)
            .or_else(|| env("GITHUB_REPOSITORY"))
            .ok_or_else(|| {
                relkit_core::Error::invalid("--repo", "not given, and GITHUB_REPOSITORY is not set")
            })?;
        let (owner, repo) = split_repo(&full)?;
        let api_url = resolve_api(api_url, env)?;
        let token = resolve_token(token_env, env)?;
        Ok(Remote {
            owner,
            repo,
            api_url,
            token,
            retry_base: Duration::from_secs(1),
            give_up: Duration::from_secs(600),
            timeout: Duration::from_secs(60),
        })
    }

    /// The same remote with other retry settings (tests make them fast).
    #[must_use]
    pub fn with_retries(mut self, base: Duration, give_up: Duration, timeout: Duration) -> Self {
        self.retry_base = base;
        self.give_up = give_up;
        self.timeout = timeout.max(Duration::from_millis(1));
        self
    }

    /// `OWNER/NAME`.
    pub fn full_name(&self) -> String {
        format!("{}/{}", self.owner, self.repo)
    }

    /// A client whose retry budget starts now.
    pub(crate) fn client(&self) -> Result<GitHub, Error> {
        GitHub::new(
            &self.api_url,
            &self.owner,
            &self.repo,
            self.token.clone(),
            Policy::new(self.retry_base, self.give_up),
            self.timeout,
        )
    }
}

fn resolve_api(given: Option<&str>, env: &dyn Fn(&str) -> Option<String>) -> Result<Url, Error> {
    let raw = given
        .map(str::to_owned)
        .or_else(|| env("GITHUB_API_URL"))
        .unwrap_or_else(|| "https://api.github.com".to_owned());
    Url::parse(&raw)
        .ok()
        .filter(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some())
        .ok_or_else(|| {
            relkit_core::Error::invalid("--api-url", format!("`{raw}` is not an http(s) URL"))
                .into()
        })
}

/// Read the token. Whoever passes the token itself where its variable's
/// name belongs must not see it echoed (issue 10.3), so `--token-env`'s
/// value is never repeated; and a token that cannot be an HTTP header value
/// is refused here, naming only its variable (issue 10.1).
fn resolve_token(
    token_env: Option<&str>,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Token, Error> {
    let (var, value) = match token_env {
        Some(name) if !is_env_name(name) => {
            return Err(relkit_core::Error::invalid(
                "--token-env",
                "takes the NAME of an environment variable (letters, digits, `_`), not the token itself",
            )
            .into());
        }
        Some(name) => (
            name.to_owned(),
            env(name).ok_or_else(|| {
                relkit_core::Error::invalid(
                    "--token-env",
                    "the environment variable it names is not set or is empty",
                )
            })?,
        ),
        None => ["GITHUB_TOKEN", "GH_TOKEN"]
            .into_iter()
            .find_map(|v| env(v).map(|t| (v.to_owned(), t)))
            .ok_or_else(|| {
                relkit_core::Error::invalid(
                    "token",
                    "none found: set GITHUB_TOKEN or GH_TOKEN, or name the variable with --token-env",
                )
            })?,
    };
    gha::mask(&value);
    let token = Token::new(value);
    if !token.is_header_safe() {
        let which = if token_env.is_some() {
            "the variable --token-env names".to_owned()
        } else {
            format!("`{var}`")
        };
        return Err(relkit_core::Error::invalid(
            "token",
            format!(
                "{which} holds a character that cannot be sent in an HTTP header (a line break, a control character or non-ASCII); check the secret for a trailing newline"
            ),
        )
        .into());
    }
    Ok(token)
}

/// Whether `name` can be an environment variable's name (what relkit-sign
/// accepts for its `--*-env` flags).
fn is_env_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    bytes
        .next()
        .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
        && name.len() <= 256
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

pub(crate) fn split_repo(s: &str) -> Result<(String, String), Error> {
    let ok = |p: &str| {
        !p.is_empty()
            && p != "."
            && p != ".."
            && p.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    };
    match s.split_once('/') {
        Some((o, n)) if ok(o) && ok(n) => Ok((o.to_owned(), n.to_owned())),
        _ => Err(relkit_core::Error::invalid("--repo", format!("`{s}` is not OWNER/NAME")).into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env_of(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |k| {
            pairs
                .iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| (*v).to_owned())
        }
    }

    #[test]
    fn repo_names() {
        assert_eq!(
            split_repo("octo/demo").unwrap(),
            ("octo".into(), "demo".into())
        );
        for bad in ["octo", "octo/", "/demo", "a/b/c", "a/..", "a b/c"] {
            assert!(split_repo(bad).is_err(), "{bad}");
        }
    }

    // issue 10.1: a token with a newline, CR or DEL is one line naming the
    // variable, never the token, and no panic.
    #[test]
    fn token_that_is_no_header_value_is_refused_by_name() {
        for bad in [
            "canary-abc\n",
            "canary-abc\r",
            "canary-a\u{7f}bc",
            "canary-é",
        ] {
            let value: &'static str = Box::leak(bad.to_owned().into_boxed_str());
            let pairs: &'static [(&str, &str)] = Box::leak(Box::new([
                ("GITHUB_REPOSITORY", "o/r"),
                ("GITHUB_TOKEN", value),
            ]));
            let e = Remote::from_env(None, None, None, &env_of(pairs)).unwrap_err();
            let line = relkit_core::error::one_line(&e);
            assert!(line.contains("`GITHUB_TOKEN`"), "{line}");
            assert!(!line.contains("canary"), "{line}");
            assert!(!line.contains('\n'), "{line}");
            assert_eq!(relkit_core::HasFailure::failure(&e).code(), 1);
        }
    }

    // issue 10.3: --token-env never echoes its value, set or not.
    #[test]
    fn token_env_value_is_never_echoed() {
        let env = env_of(&[("GITHUB_REPOSITORY", "o/r")]);
        for given in ["canary-TOK", "ghp_canaryTOKEN123", "canary TOK\n"] {
            let e = Remote::from_env(None, Some(given), None, &env).unwrap_err();
            let line = e.to_string();
            assert!(!line.contains("canary"), "{line}");
            assert!(line.starts_with("--token-env:"), "{line}");
            assert_eq!(relkit_core::HasFailure::failure(&e).code(), 1);
        }
    }

    #[test]
    fn resolves_like_the_cli() {
        let env = env_of(&[
            ("GITHUB_REPOSITORY", "octo/demo"),
            ("GH_TOKEN", "t1"),
            ("GITHUB_API_URL", "https://ghe.example.com/api/v3"),
            ("MINE", "t2"),
        ]);
        let r = Remote::from_env(None, None, None, &env).unwrap();
        assert_eq!(r.full_name(), "octo/demo");
        assert_eq!(r.api_url.as_str(), "https://ghe.example.com/api/v3");
        let r = Remote::from_env(Some("a/b"), Some("MINE"), Some("http://x"), &env).unwrap();
        assert_eq!(r.full_name(), "a/b");
        assert!(!format!("{r:?}").contains("t2"));
    }
}
