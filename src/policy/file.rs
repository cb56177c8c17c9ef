//! Policy files: TOML (`docs/policy.md`).

use super::run::MAX_SPARE_PORTS;
use super::{Group, IoWindows, Policy, PolicyVersion};
use toml::{Table, Value};

/// A policy file that cannot be read: TOML syntax, an unknown key, a value
/// of the wrong type or out of range.
///
/// ```
/// let e = pciplan::policy::Policy::from_toml("version = 1\nspares = 2\n").unwrap_err();
/// assert_eq!(e.to_string(), "policy file: unknown key 'spares'");
/// ```
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("policy file: {0}")]
pub struct PolicyFileError(pub String);

fn bad(msg: impl Into<String>) -> PolicyFileError {
    PolicyFileError(msg.into())
}

const KEYS: [&str; 10] = [
    "version",
    "spare_ports",
    "expand",
    "strict",
    "host_multifunction",
    "hotplug_off",
    "io_windows",
    "group",
    "group_bus_numbers",
    "comment",
];

pub(super) fn parse(text: &str) -> Result<Policy, PolicyFileError> {
    let table: Table = text
        .parse()
        .map_err(|e: toml::de::Error| bad(e.message().to_string()))?;
    for key in table.keys() {
        if !KEYS.contains(&key.as_str()) {
            return Err(bad(format!("unknown key '{key}'")));
        }
    }
    let version = match table.get("version") {
        None => return Err(bad("'version' is required (version = 1)")),
        Some(Value::Integer(1)) => PolicyVersion::V1,
        Some(Value::Integer(v)) => {
            return Err(bad(format!(
                "version {v} is not known to this pciplan (it reads version 1)"
            )));
        }
        Some(_) => return Err(bad("'version' must be an integer")),
    };
    let spare_ports = match table.get("spare_ports") {
        None => 0,
        Some(Value::Integer(n)) if (0..=i64::from(MAX_SPARE_PORTS)).contains(n) => {
            u32::try_from(*n).unwrap_or(0)
        }
        Some(_) => {
            return Err(bad(format!(
                "'spare_ports' must be an integer from 0 to {MAX_SPARE_PORTS}"
            )));
        }
    };
    let flag = |key: &str| -> Result<bool, PolicyFileError> {
        match table.get(key) {
            None => Ok(false),
            Some(Value::Boolean(b)) => Ok(*b),
            Some(_) => Err(bad(format!("'{key}' must be true or false"))),
        }
    };
    let hotplug_off = match table.get("hotplug_off") {
        None => Vec::new(),
        Some(Value::Array(a)) => a
            .iter()
            .map(|v| match v {
                Value::String(s) if ELEMENTS.contains(&s.as_str()) => Ok(s.clone()),
                Value::String(s) => Err(bad(format!(
                    "'hotplug_off': '{s}' is not a device element ({})",
                    ELEMENTS.join(", ")
                ))),
                _ => Err(bad("'hotplug_off' must be a list of element names")),
            })
            .collect::<Result<_, _>>()?,
        Some(_) => return Err(bad("'hotplug_off' must be a list of element names")),
    };
    let io_windows = match table.get("io_windows") {
        None => IoWindows::Ignore,
        Some(Value::String(s)) if s == "ignore" => IoWindows::Ignore,
        Some(Value::String(s)) if s == "refuse" => IoWindows::Refuse,
        Some(_) => return Err(bad("'io_windows' must be \"ignore\" or \"refuse\"")),
    };
    let groups = match table.get("group") {
        None => Vec::new(),
        Some(Value::Array(a)) => a.iter().map(group).collect::<Result<_, _>>()?,
        Some(_) => return Err(bad("'group' must be an array of tables ([[group]])")),
    };
    let group_bus_numbers = match table.get("group_bus_numbers") {
        None => None,
        Some(Value::Integer(n)) if (2..=128).contains(n) => u32::try_from(*n).ok(),
        Some(_) => return Err(bad("'group_bus_numbers' must be an integer from 2 to 128")),
    };
    let mut keys: Vec<&str> = groups.iter().map(|g: &Group| g.key.as_str()).collect();
    keys.sort_unstable();
    if let Some(w) = keys.windows(2).find(|w| w.first() == w.get(1)) {
        return Err(bad(format!(
            "group key '{}' is given twice",
            w.first().copied().unwrap_or_default()
        )));
    }
    Ok(Policy {
        version,
        spare_ports,
        expand: flag("expand")?,
        strict: flag("strict")?,
        host_multifunction: flag("host_multifunction")?,
        hotplug_off,
        io_windows,
        groups,
        group_bus_numbers,
    })
}

/// Device elements `hotplug_off` may name: those that sit on a PCI slot.
const ELEMENTS: [&str; 12] = [
    "disk",
    "interface",
    "hostdev",
    "memballoon",
    "rng",
    "filesystem",
    "controller",
    "sound",
    "video",
    "input",
    "vsock",
    "shmem",
];

fn group(v: &Value) -> Result<Group, PolicyFileError> {
    let Value::Table(t) = v else {
        return Err(bad("'group' must be an array of tables ([[group]])"));
    };
    for key in t.keys() {
        if !matches!(key.as_str(), "key" | "node" | "devices") {
            return Err(bad(format!("[[group]]: unknown key '{key}'")));
        }
    }
    let key = match t.get("key") {
        Some(Value::String(s)) if !s.is_empty() => s.clone(),
        _ => return Err(bad("[[group]]: 'key' must be a non-empty string")),
    };
    let node = match t.get("node") {
        None => None,
        Some(Value::Integer(n)) if (0..=255).contains(n) => u32::try_from(*n).ok(),
        Some(_) => {
            return Err(bad(format!(
                "group '{key}': 'node' must be an integer from 0 to 255"
            )));
        }
    };
    let devices = match t.get("devices") {
        Some(Value::Array(a)) if !a.is_empty() => a
            .iter()
            .map(|d| match d {
                Value::String(s) => s
                    .parse()
                    .map_err(|e: crate::explain::SelectorError| bad(format!("group '{key}': {e}"))),
                _ => Err(bad(format!("group '{key}': 'devices' must be strings"))),
            })
            .collect::<Result<_, _>>()?,
        _ => {
            return Err(bad(format!(
                "group '{key}': 'devices' must be a non-empty list of selectors"
            )));
        }
    };
    Ok(Group { key, node, devices })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_version_is_refused() {
        assert!(parse("spare_ports = 1\n").is_err());
    }

    #[test]
    fn a_later_version_is_refused() {
        let e = parse("version = 2\n").unwrap_err();
        assert!(e.0.contains("version 2"));
    }

    #[test]
    fn groups_read_their_selectors() {
        let p = parse(
            "version = 1\n[[group]]\nkey = 'a'\nnode = 1\ndevices = ['interface[1]', 'mac:52:54:00:00:00:01']\n",
        )
        .unwrap();
        assert_eq!(p.groups.len(), 1);
        assert_eq!(p.groups[0].node, Some(1));
        assert_eq!(p.groups[0].devices.len(), 2);
    }

    #[test]
    fn two_groups_with_one_key_are_refused() {
        let e = parse(
            "version = 1\n[[group]]\nkey = 'a'\ndevices = ['disk[1]']\n[[group]]\nkey = 'a'\ndevices = ['disk[2]']\n",
        )
        .unwrap_err();
        assert!(e.0.contains("twice"));
    }

    #[test]
    fn too_many_spare_ports_are_refused() {
        assert!(parse("version = 1\nspare_ports = 100000\n").is_err());
    }
}
