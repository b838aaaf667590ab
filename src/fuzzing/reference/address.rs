//! Address classes from the IANA special-purpose registries.

use crate::fuzzing::input::Input;
use crate::policy::net::AddressClass::{self, *};
use ipnet::IpNet;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::OnceLock;

/// The IANA IPv4 Special-Purpose Address Registry and the IPv4 Multicast Address Space
/// Registry, mapped to harpoon's classes, plus the metadata addresses cloud providers
/// document. The most specific row wins. Rows marked globally reachable by IANA are public,
/// except inside 192.0.0.0/24 (IETF protocol assignments), which harpoon keeps reserved.
pub(crate) const V4_ROWS: &[(&str, AddressClass)] = &[
    ("0.0.0.0/8", Unspecified),        // RFC 791 "this network"
    ("10.0.0.0/8", Private),           // RFC 1918
    ("100.64.0.0/10", Private),        // RFC 6598 shared address space
    ("127.0.0.0/8", Loopback),         // RFC 1122
    ("169.254.0.0/16", LinkLocal),     // RFC 3927
    ("172.16.0.0/12", Private),        // RFC 1918
    ("192.0.0.0/24", Reserved),        // RFC 6890 IETF protocol assignments (and its sub-rows)
    ("192.0.2.0/24", Reserved),        // RFC 5737 TEST-NET-1
    ("192.31.196.0/24", Public),       // RFC 7535 AS112-v4, globally reachable
    ("192.52.193.0/24", Public),       // RFC 7450 AMT, globally reachable
    ("192.88.99.0/24", Reserved),      // RFC 7526 deprecated 6to4 relay anycast
    ("192.168.0.0/16", Private),       // RFC 1918
    ("192.175.48.0/24", Public),       // RFC 7534 AS112 direct delegation, globally reachable
    ("198.18.0.0/15", Reserved),       // RFC 2544 benchmarking
    ("198.51.100.0/24", Reserved),     // RFC 5737 TEST-NET-2
    ("203.0.113.0/24", Reserved),      // RFC 5737 TEST-NET-3
    ("224.0.0.0/4", Multicast),        // RFC 5771
    ("240.0.0.0/4", Reserved),         // RFC 1112
    ("255.255.255.255/32", Multicast), // RFC 919 limited broadcast
    ("169.254.169.254/32", Metadata),  // AWS, GCP, Azure, OpenStack instance metadata
    ("169.254.170.2/32", Metadata),    // AWS ECS task metadata
    ("169.254.169.123/32", Metadata),  // AWS time sync
    ("169.254.169.253/32", Metadata),  // AWS VPC DNS
    ("100.100.100.200/32", Metadata),  // Alibaba Cloud metadata
    ("168.63.129.16/32", Metadata),    // Azure WireServer
    ("192.0.0.192/32", Metadata),      // Oracle Cloud metadata (legacy)
];

/// The IANA IPv6 Special-Purpose Address Registry, the IPv6 multicast space and the
/// deprecated site-local range, mapped likewise. Forms that carry an IPv4 address
/// (::ffff:0:0/96, 64:ff9b::/96, 2002::/16, 2001::/32) are unwrapped before this table.
pub(crate) const V6_ROWS: &[(&str, AddressClass)] = &[
    ("::/128", Unspecified),           // RFC 4291
    ("::1/128", Loopback),             // RFC 4291
    ("::/96", Reserved),               // RFC 4291 deprecated IPv4-compatible
    ("64:ff9b:1::/48", Private),       // RFC 8215 local-use translation
    ("100::/64", Reserved),            // RFC 6666 discard-only
    ("100:0:0:1::/64", Reserved),      // RFC 9780 dummy prefix
    ("2001::/23", Reserved),           // RFC 2928 IETF protocol assignments (and its sub-rows)
    ("2001:db8::/32", Reserved),       // RFC 3849 documentation
    ("2620:4f:8000::/48", Public),     // RFC 7534 AS112-v6 direct delegation, globally reachable
    ("3fff::/20", Reserved),           // RFC 9637 documentation
    ("5f00::/16", Reserved),           // RFC 9602 SRv6 SIDs
    ("fc00::/7", Private),             // RFC 4193 unique-local
    ("fe80::/10", LinkLocal),          // RFC 4291 link-local
    ("fec0::/10", Private),            // RFC 3879 deprecated site-local
    ("ff00::/8", Multicast),           // RFC 4291
    ("fd00:ec2::254/128", Metadata),   // AWS instance metadata over IPv6
    ("fd00:ec2::23/128", Metadata),    // AWS DNS and time over IPv6
    ("fe80::a9fe:a9fe/128", Metadata), // OpenStack metadata over IPv6 (neutron, Ussuri)
    ("fd20:ce::254/128", Metadata),    // GCP metadata over IPv6
];

pub(crate) fn rows() -> &'static [(IpNet, AddressClass)] {
    static ROWS: OnceLock<Vec<(IpNet, AddressClass)>> = OnceLock::new();
    ROWS.get_or_init(|| {
        V4_ROWS
            .iter()
            .chain(V6_ROWS)
            .map(|(n, c)| (n.parse().expect("registry row"), *c))
            .collect()
    })
}

/// The IPv4 address an IPv6 address carries, by the RFC that defines each form.
pub fn unwrap(ip: IpAddr) -> IpAddr {
    let IpAddr::V6(v6) = ip else { return ip };
    let o = v6.octets();
    let last = Ipv4Addr::new(o[12], o[13], o[14], o[15]);
    let zero = |r: std::ops::Range<usize>| o[r].iter().all(|&b| b == 0);
    if zero(0..10) && o[10..12] == [0xff, 0xff] {
        return IpAddr::V4(last); // RFC 4291 IPv4-mapped
    }
    if zero(0..8) && o[8..12] == [0xff, 0xff, 0, 0] {
        return IpAddr::V4(last); // RFC 2765 SIIT
    }
    if o[..4] == [0, 0x64, 0xff, 0x9b] && zero(4..12) {
        return IpAddr::V4(last); // RFC 6052 well-known NAT64 prefix
    }
    if o[..2] == [0x20, 0x02] {
        return IpAddr::V4(Ipv4Addr::new(o[2], o[3], o[4], o[5])); // RFC 3056 6to4
    }
    if o[..4] == [0x20, 0x01, 0, 0] {
        return IpAddr::V4(Ipv4Addr::new(!o[12], !o[13], !o[14], !o[15])); // RFC 4380 Teredo
    }
    ip
}

/// The class of the most specific row holding the unwrapped address; public when none does.
pub fn classify(ip: IpAddr) -> AddressClass {
    let ip = unwrap(ip);
    rows()
        .iter()
        .filter(|(n, _)| n.contains(&ip))
        .max_by_key(|(n, _)| n.prefix_len())
        .map_or(Public, |(_, c)| *c)
}

/// An IPv4 address in, at the edge of, or just outside a registry row.
pub fn v4_near_row(inp: &mut Input) -> Ipv4Addr {
    let (net, _) = inp.pick(V4_ROWS);
    let net: ipnet::Ipv4Net = net.parse().expect("row");
    let base = u32::from(net.network());
    let size = u32::MAX
        .checked_shr(u32::from(net.prefix_len()))
        .unwrap_or(0);
    let offset = match inp.below(4) {
        0 => 0,
        1 => size,
        2 => size.wrapping_add(1),
        _ => inp.u32() & size,
    };
    Ipv4Addr::from(base.wrapping_add(offset))
}

pub fn v6_near_row(inp: &mut Input) -> IpAddr {
    let (net, _) = inp.pick(V6_ROWS);
    let net: ipnet::Ipv6Net = net.parse().expect("row");
    let base = u128::from(net.network());
    let size = u128::MAX
        .checked_shr(u32::from(net.prefix_len()))
        .unwrap_or(0);
    let random = u128::from(inp.u32()) << 64 | u128::from(inp.u32()) << 32 | u128::from(inp.u32());
    let offset = match inp.below(4) {
        0 => 0,
        1 => size,
        2 => size.wrapping_add(1),
        _ => random & size,
    };
    IpAddr::V6(Ipv6Addr::from(base.wrapping_add(offset)))
}

/// Every IPv6 spelling of an IPv4 address: mapped, SIIT, NAT64, 6to4 and Teredo (with
/// arbitrary server, flags and port bits from `noise`).
pub fn spellings(v4: Ipv4Addr, noise: u32) -> Vec<Ipv6Addr> {
    let [a, b, c, d] = v4.octets();
    let w = |hi: u8, lo: u8| u16::from(hi) << 8 | u16::from(lo);
    let n = noise.to_be_bytes();
    vec![
        Ipv6Addr::new(0, 0, 0, 0, 0, 0xffff, w(a, b), w(c, d)),
        Ipv6Addr::new(0, 0, 0, 0, 0xffff, 0, w(a, b), w(c, d)),
        Ipv6Addr::new(0x64, 0xff9b, 0, 0, 0, 0, w(a, b), w(c, d)),
        Ipv6Addr::new(0x2002, w(a, b), w(c, d), w(n[0], n[1]), 0, 0, 0, 1),
        Ipv6Addr::new(
            0x2001,
            0,
            w(n[0], n[1]),
            w(n[2], n[3]),
            0,
            w(n[1], n[2]),
            w(!a, !b),
            w(!c, !d),
        ),
    ]
}

/// docs/allowlist.md `network.allow_cidrs`: metadata, unspecified and multicast peers never;
/// harpoon's own listeners never; else inside a CIDR (the address or the IPv4 one it
/// carries), or public when there are none.
pub fn may_connect(ip: IpAddr, port: u16, allow: &[IpNet], own: &[SocketAddr]) -> bool {
    let class = classify(ip);
    if matches!(class, Metadata | Unspecified | Multicast) {
        return false;
    }
    let plain = unwrap(ip);
    let listener = own.iter().any(|l| {
        l.port() == port && (l.ip() == plain || l.ip().is_unspecified() && class == Loopback)
    });
    if listener {
        return false;
    }
    if allow.is_empty() {
        return class == Public;
    }
    allow.iter().any(|n| n.contains(&ip) || n.contains(&plain))
}
