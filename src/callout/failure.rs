//! Why the network failed a permitted call. The stage is typed, so an embedder and the tests can
//! tell a connection that never opened from a body that broke off; the detail is the network
//! library's own words about what the upstream did, kept for the operator and always redacted
//! before it is shown (`CallError::redacted`).

/// Where in the exchange the network failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureStage {
    /// DNS failed, or the connection was refused or reset before it opened.
    Connect,
    /// The request could not be built from the permit.
    BuildRequest,
    /// The upstream broke the protocol, or reset before the response headers.
    Exchange,
    /// The body broke off after the response headers.
    Body,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetworkFailure {
    pub stage: FailureStage,
    /// The innermost error of the chain ("connection reset by peer"); upstream text, so it is
    /// redacted with the target's secrets before anyone sees it.
    pub detail: String,
}

impl NetworkFailure {
    pub fn new(stage: FailureStage, cause: &(dyn std::error::Error + 'static)) -> Self {
        NetworkFailure {
            stage,
            detail: root_cause(cause),
        }
    }

    pub(super) fn redacted(self, target: &crate::policy::Target) -> Self {
        NetworkFailure {
            stage: self.stage,
            detail: target.redact_text(&self.detail).to_string(),
        }
    }
}

impl std::error::Error for NetworkFailure {}

impl std::fmt::Display for NetworkFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let detail = &self.detail;
        match self.stage {
            FailureStage::BuildRequest => write!(f, "the request could not be built: {detail}"),
            FailureStage::Body => write!(f, "the body broke off: {detail}"),
            FailureStage::Connect | FailureStage::Exchange => f.write_str(detail),
        }
    }
}

/// The innermost error of a chain, which says what really happened ("connection reset").
fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cur: &dyn std::error::Error = e;
    while let Some(next) = cur.source() {
        cur = next;
    }
    cur.to_string()
}
