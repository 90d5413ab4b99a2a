use super::*;

fn host(text: &str) -> String {
    parse_authority(text, 443)
        .unwrap_or_else(|e| panic!("{text}: {e}"))
        .host
}

#[test]
fn names_are_lower_case_without_a_trailing_dot() {
    assert_eq!(host("API.Example.COM."), "api.example.com");
    assert_eq!(parse_authority("example.com:8443", 443).unwrap().port, 8443);
    assert_eq!(parse_authority("example.com", 80).unwrap().port, 80);
}

#[test]
fn every_spelling_of_loopback_is_one_address() {
    for spelling in [
        "127.0.0.1",
        "127.1",
        "2130706433",
        "0x7f000001",
        "0x7f.1",
        "0177.0.0.1",
        "0177.0.0.01",
        "[::ffff:127.0.0.1]",
        "[::ffff:7f00:1]",
    ] {
        let a = parse_authority(spelling, 443).unwrap_or_else(|e| panic!("{spelling}: {e}"));
        assert_eq!(a.host, "127.0.0.1", "{spelling}");
        assert_eq!(
            forbidden_address(a.ip.unwrap()),
            Some("a loopback address"),
            "{spelling}"
        );
    }
}

#[test]
fn metadata_and_link_local_are_forbidden() {
    for spelling in [
        "169.254.169.254",
        "0xa9fea9fe",
        "[fe80::1]",
        "[fd00:ec2::254]",
    ] {
        let a = parse_authority(spelling, 80).unwrap();
        assert!(forbidden_address(a.ip.unwrap()).is_some(), "{spelling}");
    }
    for spelling in [
        "0.0.0.0",
        "0",
        "[::]",
        "[::1]",
        "255.255.255.255",
        "224.0.0.1",
    ] {
        let a = parse_authority(spelling, 80).unwrap();
        assert!(forbidden_address(a.ip.unwrap()).is_some(), "{spelling}");
    }
    for ordinary in ["93.184.216.34", "10.1.2.3", "[2606:2800:220:1::]"] {
        let a = parse_authority(ordinary, 80).unwrap();
        assert_eq!(forbidden_address(a.ip.unwrap()), None, "{ordinary}");
    }
}

#[test]
fn tricks_in_the_name_are_refused() {
    for bad in [
        "evil.com\0.example.com",
        "evil.com%00.example.com",
        "example.com/evil",
        "user@example.com",
        "example.com@evil.com",
        "exa mple.com",
        "example..com",
        "-example.com",
        ".example.com",
        "example.com:",
        "example.com:0",
        "example.com:0443",
        "example.com:65536",
        "example.com:https",
        "[::1",
        "[::1]x",
        "1.2.3.4.5",
        "999.1.1.1",
        "example.123",
        "",
        "\u{202e}moc.live",
        "ex\u{0430}mple.com",
    ] {
        assert!(parse_authority(bad, 443).is_err(), "{bad:?} was accepted");
    }
}

#[test]
fn errors_show_control_characters_escaped() {
    let e = parse_authority("a\u{1b}[31m.com", 443).unwrap_err();
    assert!(e.to_string().contains("\\u{1b}"), "{e}");
}

#[test]
fn display_brackets_ipv6() {
    let a = parse_authority("[2001:db8::1]:8080", 443).unwrap();
    assert_eq!(a.to_string(), "[2001:db8::1]:8080");
    assert_eq!(
        parse_authority("example.com", 443).unwrap().to_string(),
        "example.com:443"
    );
}
