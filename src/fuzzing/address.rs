//! Address classification.

use super::input::Input;
use super::reference;
use crate::policy::net::{NetworkPolicy, classify, unwrap};
use ipnet::IpNet;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// CIDRs an allowlist may open, including the sweeping ones.
#[rustfmt::skip] // A word list reads best as a paragraph.
pub(crate) const CIDRS: &[&str] = &[
    "10.0.0.0/8", "127.0.0.0/8", "0.0.0.0/0", "::/0", "169.254.0.0/16", "fe80::/10", "2002::/16",
    "64:ff9b::/96", "::ffff:0:0/96", "192.168.1.0/24", "8.8.8.0/24", "fd00::/8",
];

/// Any address, in any of its spellings, gets the class a table built from the IANA
/// special-purpose registries gives it; every spelling of an IPv4 address gets the class of that
/// address; and the network rule lets a peer through exactly when the reference rule does.
pub fn address(data: &[u8]) {
    let mut inp = Input::new(data);
    let v4 = match inp.below(3) {
        0 => Ipv4Addr::from(inp.u32()),
        _ => reference::v4_near_row(&mut inp),
    };
    let ip = match inp.below(8) {
        0 | 1 => IpAddr::V4(v4),
        2 => IpAddr::V6(Ipv6Addr::from(
            u128::from(inp.u32()) << 96 | u128::from(inp.u32()),
        )),
        3 | 4 => reference::v6_near_row(&mut inp),
        _ => {
            let forms = reference::spellings(v4, inp.u32());
            IpAddr::V6(*inp.pick(&forms))
        }
    };
    assert_eq!(classify(ip), reference::classify(ip), "class of {ip}");
    assert_eq!(unwrap(ip), reference::unwrap(ip), "unwrap({ip})");
    let plain = classify(IpAddr::V4(v4));
    for form in reference::spellings(v4, inp.u32()) {
        assert_eq!(classify(IpAddr::V6(form)), plain, "{form} spells {v4}");
    }
    let allow: Vec<IpNet> = (0..inp.below(4))
        .map(|_| inp.pick(CIDRS).parse().expect("cidr"))
        .collect();
    let port = *inp.pick(&[80u16, 443, 8787]);
    let own: Vec<SocketAddr> = (0..inp.below(3))
        .map(|_| {
            let at: IpAddr = *inp.pick(&[
                IpAddr::V4(Ipv4Addr::LOCALHOST),
                IpAddr::V4(Ipv4Addr::UNSPECIFIED),
                IpAddr::V6(Ipv6Addr::UNSPECIFIED),
                ip,
            ]);
            SocketAddr::new(at, *inp.pick(&[8787u16, 443]))
        })
        .collect();
    let got = NetworkPolicy::new(allow.clone()).check(SocketAddr::new(ip, port), &own);
    assert_eq!(
        got.is_ok(),
        reference::may_connect(ip, port, &allow, &own),
        "{ip}:{port} with {allow:?}, own {own:?}: {got:?}"
    );
}
