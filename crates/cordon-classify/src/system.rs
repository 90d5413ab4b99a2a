//! The machine itself: killing init or databases, wiping crontabs and firewalls,
//! stopping services, shutting down.

use cordon_core::Effect;

use crate::engine::{Call, Engine, Hit};
use crate::flow::Flow;

/// Processes whose death loses data or takes the machine's services down.
const VITAL: &[&str] = &[
    "postgres",
    "postgresql",
    "postmaster",
    "mysqld",
    "mysql",
    "mariadbd",
    "mariadb",
    "redis",
    "redis-server",
    "mongod",
    "mongodb",
    "dockerd",
    "docker",
    "containerd",
    "sshd",
    "systemd",
    "init",
    "kubelet",
    "etcd",
    "elasticsearch",
    "clickhouse",
    "clickhouse-server",
    "rabbitmq",
    "rabbitmq-server",
    "kafka",
    "zookeeper",
    "nginx",
    "httpd",
    "apache2",
    "memcached",
    "cassandra",
    "influxd",
    "vault",
    "consul",
    "nomad",
    "minio",
    "cockroach",
    "sqlservr",
    "oracle",
    "supervisord",
];

pub(crate) fn classify(e: &mut Engine, c: &Call) -> Option<Flow> {
    match c.name {
        "kill" => kill(e, c),
        "pkill" | "killall" | "skill" | "slay" => pkill(e, c),
        "killall5" => destroy(e, "killall5 kills every process"),
        "crontab" => {
            if c.has("-r") || c.has_short('r') {
                destroy(e, "crontab -r deletes every scheduled job without asking")
            } else if c.has("-l") || c.has("-v") {
                Some(Flow::opaque())
            } else {
                e.hit(
                    Hit::new(
                        Effect::Write,
                        "crontab replaces the scheduled jobs of this machine",
                    )
                    .path(Some("/var/spool/cron".into())),
                );
                Some(Flow::opaque())
            }
        }
        "iptables" | "ip6tables" | "iptables-legacy" | "iptables-nft" => {
            let flush = c
                .args
                .iter()
                .any(|a| matches!(a.s(), "-F" | "--flush" | "-X" | "--delete-chain" | "-Z"))
                || c.args.windows(3).any(
                    |w| matches!(w, [a, _, b] if a.is("-P") && (b.is("DROP") || b.is("ACCEPT"))),
                );
            if flush {
                destroy(e, "iptables flushes or opens up the firewall rules")
            } else if c.args.iter().any(|a| {
                matches!(
                    a.s(),
                    "-L" | "--list" | "-S" | "--list-rules" | "-C" | "--check"
                )
            }) {
                Some(Flow::opaque())
            } else {
                write_system(e, "iptables changes firewall rules")
            }
        }
        "nft" => {
            if c.args.iter().any(|a| a.is("flush") || a.is("delete")) {
                destroy(e, "nft flushes or deletes firewall rules")
            } else if c.args.iter().any(|a| a.is("list")) {
                Some(Flow::opaque())
            } else {
                write_system(e, "nft changes firewall rules")
            }
        }
        "ufw" => match c.positionals().first().map(|a| a.s()) {
            Some("disable" | "reset") => destroy(e, "ufw disable/reset removes the firewall"),
            Some("status" | "show" | "app") => Some(Flow::opaque()),
            _ => write_system(e, "ufw changes firewall rules"),
        },
        "systemctl" | "service" | "rc-service" | "launchctl" => service(e, c),
        "shutdown" | "reboot" | "halt" | "poweroff" => {
            if c.has("-c") || c.has("--help") {
                return Some(Flow::opaque());
            }
            destroy(e, &format!("{} stops the machine", c.name))
        }
        "init" | "telinit"
            if c.args
                .first()
                .is_some_and(|a| matches!(a.s(), "0" | "6" | "1" | "S" | "s")) =>
        {
            destroy(
                e,
                "init changes the run level (shutdown, reboot or single user)",
            )
        }
        "userdel" | "deluser" | "groupdel" | "delgroup" => {
            destroy(e, &format!("{} deletes accounts", c.name))
        }
        "passwd" | "usermod" | "chpasswd" | "useradd" | "adduser" | "visudo" => {
            write_system(e, &format!("{} changes accounts", c.name))
        }
        "apt" | "apt-get" | "yum" | "dnf" | "pacman" | "zypper" | "apk" | "brew" | "snap"
        | "port" => packages(e, c),
        "swapoff" | "umount" => write_system(e, &format!("{} detaches storage", c.name)),
        "mount" if !c.args.is_empty() => write_system(e, "mount attaches storage"),
        "sysctl" if c.args.iter().any(|a| a.is("-w") || a.s().contains('=')) => {
            write_system(e, "sysctl changes kernel settings")
        }
        "modprobe" | "insmod" | "rmmod" => {
            write_system(e, &format!("{} changes kernel modules", c.name))
        }
        "history" if c.has("-c") => {
            e.hit(Hit::new(
                Effect::Write,
                "history -c clears the shell history",
            ));
            Some(Flow::opaque())
        }
        _ => None,
    }
}

fn destroy(e: &mut Engine, why: &str) -> Option<Flow> {
    e.hit(Hit::new(Effect::Destroy, why));
    Some(Flow::opaque())
}

fn write_system(e: &mut Engine, why: &str) -> Option<Flow> {
    e.hit(Hit::new(Effect::Write, why).path(Some("/etc".into())));
    Some(Flow::opaque())
}

fn kill(e: &mut Engine, c: &Call) -> Option<Flow> {
    if c.has("-l") || c.has("-L") {
        return Some(Flow::opaque());
    }
    let mut targets = Vec::new();
    let mut it = c.args.iter();
    while let Some(a) = it.next() {
        if a.is("-s") || a.is("-n") {
            it.next();
            continue;
        }
        // `-9`, `-KILL`, `-SIGTERM` are signals; `-1` after `--` or a signal is a pid.
        if a.is_option() && (targets.is_empty() || !a.is("-1")) {
            continue;
        }
        targets.push(a.s().to_string());
    }
    // `kill -9 -1`: the last negative number is the target when no other is given.
    if targets.is_empty()
        && c.args.iter().filter(|a| a.s().starts_with('-')).count() >= 2
        && c.args.last().is_some_and(|a| a.is("-1"))
    {
        targets.push("-1".into());
    }
    if targets.iter().any(|t| t == "1" || t == "-1" || t == "0") {
        return destroy(e, "kill targets init or every process (pid 1, 0 or -1)");
    }
    if targets
        .iter()
        .any(|t| !t.starts_with('%') && t.parse::<u32>().is_err())
    {
        e.hit(Hit::new(
            Effect::Write,
            "kill stops processes chosen at run time",
        ));
        return Some(Flow::opaque());
    }
    e.hit(Hit::new(Effect::Write, "kill stops a process"));
    Some(Flow::opaque())
}

fn pkill(e: &mut Engine, c: &Call) -> Option<Flow> {
    let mut names = Vec::new();
    let mut it = c.args.iter();
    let mut by_user = false;
    while let Some(a) = it.next() {
        if matches!(a.s(), "-u" | "-U" | "--user" | "--uid" | "--euid") {
            by_user = true;
            it.next();
            continue;
        }
        if matches!(
            a.s(),
            "-s" | "--signal"
                | "-g"
                | "-G"
                | "-P"
                | "-t"
                | "--session"
                | "-o"
                | "-y"
                | "--younger-than"
                | "--older-than"
                | "-n"
        ) {
            it.next();
            continue;
        }
        if a.is_option() {
            continue;
        }
        names.push(a.s().to_ascii_lowercase());
    }
    let vital = names.iter().find(|n| {
        let base = n.rsplit('/').next().unwrap_or(n);
        VITAL.iter().any(|v| {
            base == *v
                || base.starts_with(&format!("{v}:"))
                || (base.len() >= 5 && v.starts_with(base))
        })
    });
    if let Some(v) = vital {
        return destroy(
            e,
            &format!(
                "{} kills {v}, which holds data or runs the machine's services",
                c.name
            ),
        );
    }
    if by_user && names.is_empty() {
        return destroy(e, &format!("{} kills every process of a user", c.name));
    }
    e.hit(Hit::new(
        Effect::Write,
        format!("{} stops {}", c.name, names.join(", ")),
    ));
    Some(Flow::opaque())
}

fn service(e: &mut Engine, c: &Call) -> Option<Flow> {
    let pos: Vec<String> = c
        .positionals()
        .iter()
        .map(|a| a.s().to_ascii_lowercase())
        .collect();
    // `service NAME stop` puts the unit first; systemctl puts the verb first.
    let (verb, units): (String, Vec<String>) = if c.name == "service" || c.name == "rc-service" {
        (
            pos.get(1).cloned().unwrap_or_default(),
            pos.first().cloned().into_iter().collect(),
        )
    } else {
        (
            pos.first().cloned().unwrap_or_default(),
            pos.get(1..).unwrap_or_default().to_vec(),
        )
    };
    match verb.as_str() {
        "poweroff" | "reboot" | "halt" | "kexec" | "emergency" | "rescue" => {
            destroy(e, &format!("systemctl {verb} stops the machine"))
        }
        "stop" | "disable" | "mask" | "kill" | "restart" | "try-restart" | "reload-or-restart"
        | "unload" | "bootout" => {
            let vital = units.iter().find(|u| {
                let name = u.trim_end_matches(".service").trim_end_matches(".socket");
                VITAL.iter().any(|v| {
                    name == *v
                        || name.starts_with(&format!("{v}@"))
                        || name.starts_with(&format!("{v}-"))
                        || name.starts_with(v) && name.len() <= v.len() + 3
                })
            });
            match vital {
                Some(u)
                    if verb != "restart"
                        && verb != "try-restart"
                        && verb != "reload-or-restart" =>
                {
                    destroy(
                        e,
                        &format!(
                            "{} {verb} {u} takes down a database or core service",
                            c.name
                        ),
                    )
                }
                _ => write_system(e, &format!("{} {verb} {}", c.name, units.join(" "))),
            }
        }
        "status" | "show" | "list-units" | "list-unit-files" | "is-active" | "is-enabled"
        | "is-failed" | "cat" | "list-timers" | "list-sockets" | "help" | "list" | "print" | "" => {
            Some(Flow::opaque())
        }
        _ => write_system(e, &format!("{} {verb} {}", c.name, units.join(" "))),
    }
}

fn packages(e: &mut Engine, c: &Call) -> Option<Flow> {
    let pos: Vec<String> = c.positionals().iter().map(|a| a.s().to_string()).collect();
    let verb = pos.first().map(String::as_str).unwrap_or("");
    let removing = matches!(
        verb,
        "remove" | "purge" | "autoremove" | "erase" | "uninstall" | "del" | "rm"
    ) || (c.name == "pacman" && c.args.iter().any(|a| a.s().starts_with("-R")));
    if removing {
        let names = pos.get(1..).unwrap_or_default().join(" ");
        return destroy(
            e,
            &format!("{} {verb} removes system packages {names}", c.name),
        );
    }
    if matches!(
        verb,
        "list"
            | "search"
            | "show"
            | "info"
            | "policy"
            | "madison"
            | "depends"
            | "rdepends"
            | "doctor"
            | "--version"
            | "outdated"
            | "deps"
            | "leaves"
            | "desc"
            | "home"
            | "config"
    ) {
        return Some(Flow::opaque());
    }
    e.hit(Hit::new(
        Effect::Write,
        format!("{} {verb} changes system packages", c.name),
    ));
    Some(Flow::opaque())
}
