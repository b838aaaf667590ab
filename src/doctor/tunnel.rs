//! `doctor --tunnel`: the tunnel service answers, and accepts the key, the tunnel id and the
//! organization. The same one short poll as `harpoon tunnel --check`, as a doctor check.

use super::{Check, Status};
use crate::transport::tunnel::{self, CheckOutcome, TunnelError, TunnelOptions};

const WHY: &str = "harpoon tunnel polls this service for every call a hosted agent makes; a refused key or \
unknown tunnel id means no call arrives, and the agent only sees its connector fail";

/// Polls once and says what the service made of it.
pub async fn check(options: &TunnelOptions) -> Check {
    let id = "tunnel.service".to_owned();
    let service = format!("{} (tunnel {})", options.edge, options.tunnel_id);
    match tunnel::check(options).await {
        Ok(CheckOutcome::Accepted { not_run }) => {
            let mut c = Check::new(
                id,
                Status::Pass,
                format!("{service} accepts the key"),
                WHY,
            );
            if not_run > 0 {
                c = c.evidence(format!(
                    "the poll handed over {not_run} command(s); they were answered 503 without running, so their callers retry"
                ));
            }
            c
        }
        Ok(CheckOutcome::Refused(e)) | Err(e) => refused(id, &service, &e),
        Ok(CheckOutcome::Unavailable(why)) => Check::new(
            id,
            Status::Fail,
            format!("{service} gave no verdict"),
            WHY,
        )
        .evidence(why)
        .next("check the network path to the service (--proxy, --ca-file, a firewall) and run doctor again"),
    }
}

fn refused(id: String, service: &str, e: &TunnelError) -> Check {
    let summary = if e.is_refusal() {
        format!("{service} refused the tunnel")
    } else {
        format!("the connection to {service} could not be set up")
    };
    Check::new(id, Status::Fail, summary, WHY)
        .evidence(e.to_string())
        .next(e.fix())
}
