//! Address classes and the per-target network rule, checked against the connected peer
//! address at connect time. The tables come from the IANA special-purpose address registries:
//! <https://www.iana.org/assignments/iana-ipv4-special-registry> and
//! <https://www.iana.org/assignments/iana-ipv6-special-registry> (RFC 6890), plus the multicast
//! registries and the cloud metadata addresses that providers document. IPv4-mapped, SIIT,
//! NAT64 (64:ff9b::/96), 6to4 and Teredo forms are unwrapped to the IPv4 address they carry
//! before classification, so no spelling of a forbidden address gets through.
//!
//! One concept over ~600 lines, kept whole on purpose: the class table, the unwrapping of
//! transition forms and the rule that judges a peer are read side by side by a reviewer, and a
//! third of the file is the table tests that pin them.

use super::compiler::Compiler;
use crate::config::raw::RawTarget;
use crate::config::{ErrorKind, Location};

use ipnet::IpNet;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// What an address is, for the purpose of deciding whether harpoon may connect to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AddressClass {
    /// Globally reachable unicast: the only class allowed when a target has no `allow_cidrs`.
    Public,
    /// RFC 1918, RFC 6598 shared space, IPv6 unique-local and site-local.
    Private,
    Loopback,
    LinkLocal,
    /// Cloud instance metadata and host services: always denied.
    Metadata,
    /// `0.0.0.0/8`, `::`: always denied (connecting to them reaches the local host).
    Unspecified,
    /// Multicast and broadcast: always denied (not a unicast peer).
    Multicast,
    /// Documentation, benchmarking, reserved and other special-purpose ranges.
    Reserved,
}

impl AddressClass {
    /// Classes no allowlist can open.
    pub fn always_denied(self) -> bool {
        matches!(
            self,
            AddressClass::Metadata | AddressClass::Unspecified | AddressClass::Multicast
        )
    }

    pub fn as_str(self) -> &'static str {
        match self {
            AddressClass::Public => "public",
            AddressClass::Private => "private",
            AddressClass::Loopback => "loopback",
            AddressClass::LinkLocal => "link-local",
            AddressClass::Metadata => "metadata",
            AddressClass::Unspecified => "unspecified",
            AddressClass::Multicast => "multicast",
            AddressClass::Reserved => "reserved",
        }
    }
}

/// One row of a classification table: a prefix, its class and where it is defined.
struct Row<T> {
    net: T,
    len: u8,
    class: AddressClass,
    #[allow(dead_code)] // kept so each row cites its source in the table itself
    source: &'static str,
}

const fn v4(
    a: u8,
    b: u8,
    c: u8,
    d: u8,
    len: u8,
    class: AddressClass,
    source: &'static str,
) -> Row<u32> {
    Row {
        net: u32::from_be_bytes([a, b, c, d]),
        len,
        class,
        source,
    }
}

use AddressClass::*;

/// IPv4 rows, most specific first: the first match wins.
const V4_TABLE: &[Row<u32>] = &[
    // Cloud metadata services (provider documentation).
    v4(
        169,
        254,
        169,
        254,
        32,
        Metadata,
        "AWS/GCP/Azure/OpenStack instance metadata",
    ),
    v4(169, 254, 170, 2, 32, Metadata, "AWS ECS task metadata"),
    v4(169, 254, 169, 123, 32, Metadata, "AWS time sync service"),
    v4(169, 254, 169, 253, 32, Metadata, "AWS VPC DNS resolver"),
    v4(100, 100, 100, 200, 32, Metadata, "Alibaba Cloud metadata"),
    v4(168, 63, 129, 16, 32, Metadata, "Azure WireServer"),
    v4(
        192,
        0,
        0,
        192,
        32,
        Metadata,
        "Oracle Cloud metadata (legacy)",
    ),
    // IANA IPv4 Special-Purpose Address Registry.
    v4(0, 0, 0, 0, 8, Unspecified, "RFC 791 'this network'"),
    v4(10, 0, 0, 0, 8, Private, "RFC 1918 private-use"),
    v4(100, 64, 0, 0, 10, Private, "RFC 6598 shared address space"),
    v4(127, 0, 0, 0, 8, Loopback, "RFC 1122 loopback"),
    v4(169, 254, 0, 0, 16, LinkLocal, "RFC 3927 link local"),
    v4(172, 16, 0, 0, 12, Private, "RFC 1918 private-use"),
    v4(
        192,
        0,
        0,
        0,
        24,
        Reserved,
        "RFC 6890 IETF protocol assignments",
    ),
    v4(
        192,
        0,
        2,
        0,
        24,
        Reserved,
        "RFC 5737 documentation (TEST-NET-1)",
    ),
    v4(
        192,
        88,
        99,
        0,
        24,
        Reserved,
        "RFC 7526 deprecated 6to4 relay anycast",
    ),
    v4(192, 168, 0, 0, 16, Private, "RFC 1918 private-use"),
    v4(198, 18, 0, 0, 15, Reserved, "RFC 2544 benchmarking"),
    v4(
        198,
        51,
        100,
        0,
        24,
        Reserved,
        "RFC 5737 documentation (TEST-NET-2)",
    ),
    v4(
        203,
        0,
        113,
        0,
        24,
        Reserved,
        "RFC 5737 documentation (TEST-NET-3)",
    ),
    // IANA IPv4 Multicast Address Space Registry (RFC 5771).
    v4(224, 0, 0, 0, 4, Multicast, "RFC 5771 multicast"),
    v4(
        255,
        255,
        255,
        255,
        32,
        Multicast,
        "RFC 919 limited broadcast",
    ),
    v4(240, 0, 0, 0, 4, Reserved, "RFC 1112 reserved"),
];

const fn v6(segments: [u16; 8], len: u8, class: AddressClass, source: &'static str) -> Row<u128> {
    let mut net: u128 = 0;
    let mut i = 0;
    while i < 8 {
        net = (net << 16) | segments[i] as u128;
        i += 1;
    }
    Row {
        net,
        len,
        class,
        source,
    }
}

/// IPv6 rows, most specific first. Forms that carry an IPv4 address are unwrapped before
/// this table is consulted.
const V6_TABLE: &[Row<u128>] = &[
    v6(
        [0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x254],
        128,
        Metadata,
        "AWS IMDS over IPv6",
    ),
    v6(
        [0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x23],
        128,
        Metadata,
        "AWS DNS/time over IPv6",
    ),
    v6(
        [0xfe80, 0, 0, 0, 0, 0, 0xa9fe, 0xa9fe],
        128,
        Metadata,
        "OpenStack metadata over IPv6",
    ),
    v6(
        [0xfd20, 0xce, 0, 0, 0, 0, 0, 0x254],
        128,
        Metadata,
        "GCP metadata over IPv6",
    ),
    v6(
        [0, 0, 0, 0, 0, 0, 0, 0],
        128,
        Unspecified,
        "RFC 4291 unspecified",
    ),
    v6([0, 0, 0, 0, 0, 0, 0, 1], 128, Loopback, "RFC 4291 loopback"),
    v6(
        [0, 0, 0, 0, 0, 0, 0, 0],
        96,
        Reserved,
        "RFC 4291 deprecated IPv4-compatible",
    ),
    v6(
        [0x64, 0xff9b, 1, 0, 0, 0, 0, 0],
        48,
        Private,
        "RFC 8215 local-use IPv4/IPv6 translation",
    ),
    v6(
        [0x100, 0, 0, 0, 0, 0, 0, 0],
        64,
        Reserved,
        "RFC 6666 discard-only",
    ),
    v6(
        [0x100, 0, 0, 1, 0, 0, 0, 0],
        64,
        Reserved,
        "RFC 9780 dummy prefix",
    ),
    v6(
        [0x2001, 0xdb8, 0, 0, 0, 0, 0, 0],
        32,
        Reserved,
        "RFC 3849 documentation",
    ),
    v6(
        [0x2001, 0, 0, 0, 0, 0, 0, 0],
        23,
        Reserved,
        "RFC 2928 IETF protocol assignments",
    ),
    v6(
        [0x3fff, 0, 0, 0, 0, 0, 0, 0],
        20,
        Reserved,
        "RFC 9637 documentation",
    ),
    v6(
        [0x5f00, 0, 0, 0, 0, 0, 0, 0],
        16,
        Reserved,
        "RFC 9602 SRv6 SIDs",
    ),
    v6(
        [0xfc00, 0, 0, 0, 0, 0, 0, 0],
        7,
        Private,
        "RFC 4193 unique-local",
    ),
    v6(
        [0xfe80, 0, 0, 0, 0, 0, 0, 0],
        10,
        LinkLocal,
        "RFC 4291 link-local unicast",
    ),
    v6(
        [0xfec0, 0, 0, 0, 0, 0, 0, 0],
        10,
        Private,
        "RFC 3879 deprecated site-local",
    ),
    v6(
        [0xff00, 0, 0, 0, 0, 0, 0, 0],
        8,
        Multicast,
        "RFC 4291 multicast",
    ),
];

fn mask32(len: u8) -> u32 {
    if len == 0 { 0 } else { u32::MAX << (32 - len) }
}

fn mask128(len: u8) -> u128 {
    if len == 0 {
        0
    } else {
        u128::MAX << (128 - len)
    }
}

/// The IPv4 address an IPv6 address carries, if it is one of the transition forms.
pub fn embedded_ipv4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    let bits = u128::from(ip);
    let low32 = bits as u32;
    let s = ip.segments();
    // ::ffff:a.b.c.d (RFC 4291 IPv4-mapped) and ::ffff:0:a.b.c.d (RFC 2765 SIIT translated).
    if bits >> 32 == 0xffff || bits >> 32 == 0xffff_0000 {
        return Some(Ipv4Addr::from(low32));
    }
    // 64:ff9b::/96 (RFC 6052 well-known NAT64 prefix).
    if bits >> 32 == 0x0064_ff9b_0000_0000_0000_0000 {
        return Some(Ipv4Addr::from(low32));
    }
    // 2002::/16 (RFC 3056 6to4): the IPv4 address is bits 16..48.
    if s[0] == 0x2002 {
        return Some(Ipv4Addr::from(((s[1] as u32) << 16) | s[2] as u32));
    }
    // 2001::/32 (RFC 4380 Teredo): the client's IPv4 address, inverted, in the last 32 bits.
    if s[0] == 0x2001 && s[1] == 0 {
        return Some(Ipv4Addr::from(!low32));
    }
    None
}

/// The address to classify: the embedded IPv4 address when there is one.
pub fn unwrap(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => embedded_ipv4(v6).map(IpAddr::V4).unwrap_or(ip),
        v4 => v4,
    }
}

/// Classifies an address after unwrapping transition forms.
pub fn classify(ip: IpAddr) -> AddressClass {
    match unwrap(ip) {
        IpAddr::V4(a) => {
            let bits = u32::from(a);
            V4_TABLE
                .iter()
                .find(|r| bits & mask32(r.len) == r.net)
                .map_or(Public, |r| r.class)
        }
        IpAddr::V6(a) => {
            let bits = u128::from(a);
            V6_TABLE
                .iter()
                .find(|r| bits & mask128(r.len) == r.net)
                .map_or(Public, |r| r.class)
        }
    }
}

/// Why a peer address was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddressDenial {
    /// The class can never be opened (metadata, unspecified, multicast).
    AlwaysDenied(AddressClass),
    /// The address is one of harpoon's own listeners.
    OwnListener,
    /// No `allow_cidrs`, and the address is not public.
    NotPublic(AddressClass),
    /// `allow_cidrs` is set and the address is outside all of them.
    OutsideAllowCidrs(AddressClass),
}

impl AddressDenial {
    pub fn message(self) -> String {
        match self {
            AddressDenial::AlwaysDenied(c) => {
                format!("peer is a {} address, which is always denied", c.as_str())
            }
            AddressDenial::OwnListener => "peer is one of harpoon's own listeners".into(),
            AddressDenial::NotPublic(c) => format!(
                "peer is a {} address and the target has no allow_cidrs (public addresses only)",
                c.as_str()
            ),
            AddressDenial::OutsideAllowCidrs(c) => {
                format!("peer ({}) is outside the target's allow_cidrs", c.as_str())
            }
        }
    }
}

/// A target's network rule: the peer must be inside `allow_cidrs`, or public when empty.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NetworkPolicy {
    allow: Vec<IpNet>,
}

impl NetworkPolicy {
    pub fn new(allow: Vec<IpNet>) -> Self {
        Self { allow }
    }

    pub fn allow_cidrs(&self) -> &[IpNet] {
        &self.allow
    }

    /// Decides whether harpoon may talk to `peer`. `own` are harpoon's listening addresses.
    pub fn check(&self, peer: SocketAddr, own: &[SocketAddr]) -> Result<(), AddressDenial> {
        let ip = peer.ip();
        let class = classify(ip);
        if class.always_denied() {
            return Err(AddressDenial::AlwaysDenied(class));
        }
        if is_own_listener(peer, class, own) {
            return Err(AddressDenial::OwnListener);
        }
        if self.allow.is_empty() {
            return if class == Public {
                Ok(())
            } else {
                Err(AddressDenial::NotPublic(class))
            };
        }
        let plain = unwrap(ip);
        if self
            .allow
            .iter()
            .any(|n| n.contains(&ip) || n.contains(&plain))
        {
            Ok(())
        } else {
            Err(AddressDenial::OutsideAllowCidrs(class))
        }
    }
}

/// A listener on the unspecified address accepts on every local address, so any loopback or
/// unspecified peer on its port counts as that listener.
fn is_own_listener(peer: SocketAddr, class: AddressClass, own: &[SocketAddr]) -> bool {
    let plain = SocketAddr::new(unwrap(peer.ip()), peer.port());
    own.iter().any(|l| {
        l.port() == plain.port()
            && (l.ip() == plain.ip() || (l.ip().is_unspecified() && class == Loopback))
    })
}

pub(super) fn compile_network(
    c: &mut Compiler,
    raw: &RawTarget,
    ctx: &str,
) -> (NetworkPolicy, Vec<Location>) {
    let mut nets = Vec::new();
    let mut spans = Vec::new();
    for cidr in raw.network.iter().flat_map(|n| &n.allow_cidrs) {
        let at = c.loc(cidr);
        match parse_cidr(&cidr.value) {
            Ok(net) => {
                nets.push(net);
                spans.push(at);
            }
            Err((m, h)) => c.error(ErrorKind::Network, &at, ctx, m, &h),
        }
    }
    (NetworkPolicy::new(nets), spans)
}

/// A CIDR (`10.20.0.0/16`) or a single address; host bits must be zero, so the file says
/// exactly which range it opens.
pub(super) fn parse_cidr(text: &str) -> Result<IpNet, (String, String)> {
    let net: IpNet = match text.parse::<IpNet>() {
        Ok(n) => n,
        Err(_) => match text.parse::<std::net::IpAddr>() {
            Ok(ip) => IpNet::from(ip),
            Err(_) => {
                return Err((
                    format!("'{text}' is not a CIDR"),
                    "write e.g. 10.20.0.0/16 or fd00:1::/64".into(),
                ));
            }
        },
    };
    if net.trunc() != net {
        return Err((
            format!("'{text}' has host bits set"),
            format!("write {}", net.trunc()),
        ));
    }
    Ok(net)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(s: &str) -> AddressClass {
        classify(s.parse().unwrap())
    }

    #[test]
    fn classification_table() {
        let table = [
            ("8.8.8.8", Public),
            ("1.1.1.1", Public),
            ("10.1.2.3", Private),
            ("172.31.255.255", Private),
            ("172.32.0.1", Public),
            ("192.168.1.1", Private),
            ("100.64.0.1", Private),
            ("127.0.0.1", Loopback),
            ("127.255.255.254", Loopback),
            ("169.254.169.254", Metadata),
            ("169.254.170.2", Metadata),
            ("100.100.100.200", Metadata),
            ("168.63.129.16", Metadata),
            ("169.254.1.1", LinkLocal),
            ("0.0.0.0", Unspecified),
            ("0.1.2.3", Unspecified),
            ("224.0.0.1", Multicast),
            ("255.255.255.255", Multicast),
            ("240.0.0.1", Reserved),
            ("192.0.2.1", Reserved),
            ("198.18.0.1", Reserved),
            ("2606:4700::1111", Public),
            ("::1", Loopback),
            ("::", Unspecified),
            ("fd00:ec2::254", Metadata),
            ("fe80::a9fe:a9fe", Metadata),
            ("fd20:ce::254", Metadata),
            ("fc00::1", Private),
            ("fd12:3456::1", Private),
            ("fe80::1", LinkLocal),
            ("ff02::1", Multicast),
            ("2001:db8::1", Reserved),
            ("::ffff:127.0.0.1", Loopback),
            ("::ffff:169.254.169.254", Metadata),
            ("::ffff:0:169.254.169.254", Metadata),
            ("64:ff9b::a9fe:a9fe", Metadata),
            ("64:ff9b::8.8.8.8", Public),
            ("2002:a9fe:a9fe::1", Metadata),
            ("2002:7f00:1::", Loopback),
            ("2002:0808:0808::", Public),
            // Teredo: client 127.0.0.1 inverted is 0x80fffffe.
            ("2001:0:4136:e378:8000:63bf:80ff:fffe", Loopback),
            ("::127.0.0.1", Reserved),
        ];
        for (addr, want) in table {
            assert_eq!(c(addr), want, "{addr}");
        }
    }

    fn sa(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    #[test]
    fn public_only_without_cidrs() {
        let p = NetworkPolicy::default();
        assert_eq!(p.check(sa("8.8.8.8:443"), &[]), Ok(()));
        assert_eq!(
            p.check(sa("10.0.0.1:443"), &[]),
            Err(AddressDenial::NotPublic(Private))
        );
        assert_eq!(
            p.check(sa("127.0.0.1:80"), &[]),
            Err(AddressDenial::NotPublic(Loopback))
        );
        assert_eq!(
            p.check(sa("[::ffff:10.0.0.1]:443"), &[]),
            Err(AddressDenial::NotPublic(Private))
        );
    }

    #[test]
    fn allow_cidrs_open_only_their_range() {
        let p = NetworkPolicy::new(vec!["10.20.0.0/16".parse().unwrap()]);
        assert_eq!(p.check(sa("10.20.1.2:443"), &[]), Ok(()));
        assert_eq!(p.check(sa("[::ffff:10.20.1.2]:443"), &[]), Ok(()));
        assert_eq!(
            p.check(sa("10.21.0.1:443"), &[]),
            Err(AddressDenial::OutsideAllowCidrs(Private))
        );
        assert_eq!(
            p.check(sa("8.8.8.8:443"), &[]),
            Err(AddressDenial::OutsideAllowCidrs(Public))
        );
    }

    #[test]
    fn metadata_is_denied_even_when_allowed() {
        let p = NetworkPolicy::new(vec!["0.0.0.0/0".parse().unwrap(), "::/0".parse().unwrap()]);
        for addr in [
            "169.254.169.254:80",
            "[fd00:ec2::254]:80",
            "[::ffff:169.254.169.254]:80",
            "0.0.0.0:80",
        ] {
            assert!(
                matches!(p.check(sa(addr), &[]), Err(AddressDenial::AlwaysDenied(_))),
                "{addr}"
            );
        }
    }

    #[test]
    fn own_listeners_are_denied() {
        let p = NetworkPolicy::new(vec!["127.0.0.0/8".parse().unwrap()]);
        let own = [sa("127.0.0.1:8787")];
        assert_eq!(
            p.check(sa("127.0.0.1:8787"), &own),
            Err(AddressDenial::OwnListener)
        );
        assert_eq!(p.check(sa("127.0.0.1:9000"), &own), Ok(()));
        let any = [sa("0.0.0.0:8787")];
        assert_eq!(
            p.check(sa("127.0.0.2:8787"), &any),
            Err(AddressDenial::OwnListener)
        );
    }
}
