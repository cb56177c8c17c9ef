//! Text rendering of explanations and refusals.

use std::fmt::{self, Write as _};

use super::{DeviceExplanation, Explanation, Origin, Passed, Refusal, SlotTaken, Taker, Why};

impl Explanation {
    /// Text for one device (`None` renders all of them).
    ///
    /// ```
    /// use pciplan::{Capabilities, Machine, Plan};
    /// let e = pciplan::explain::explain(&Plan::new(Machine::q35(), Capabilities::qemu_8_0_x86_64()))
    ///     .map_err(|r| *r.error)?;
    /// assert!(e.render(None).contains("controller[1]"));
    /// # Ok::<(), pciplan::Error>(())
    /// ```
    pub fn render(&self, only: Option<&[usize]>) -> String {
        let mut out = String::new();
        for d in &self.devices {
            if only.is_some_and(|o| !o.contains(&d.index)) {
                continue;
            }
            let _ = self.render_device(d, &mut out);
        }
        out
    }

    fn name_of(&self, i: usize) -> String {
        self.devices.iter().find(|d| d.index == i).map_or_else(
            || format!("device {i}"),
            |d| format!("{}[{}] ({})", d.element, d.ordinal, d.name),
        )
    }

    fn render_device(&self, d: &DeviceExplanation, out: &mut String) -> fmt::Result {
        let addr = d
            .address
            .map_or_else(|| "no PCI address".to_string(), |a| a.to_string());
        writeln!(out, "{}[{}] {}: {addr}", d.element, d.ordinal, d.name)?;
        let origin = match &d.origin {
            Origin::Given => "address given in the input".to_string(),
            Origin::Assigned => "address assigned by pciplan".to_string(),
            Origin::Implicit => "added by pciplan (libvirt's implicit device, §4.2)".to_string(),
            Origin::AddedBus {
                for_device: Some(j),
            } => format!(
                "added by pciplan (§5.11) to make room for {}",
                self.name_of(*j)
            ),
            Origin::AddedBus { for_device: None } => {
                "added by pciplan (§5.11 step 6): the spare port for hot-plug".to_string()
            }
        };
        writeln!(out, "  origin: {origin}")?;
        writeln!(out, "  connects as: {}", d.flags_words)?;
        if !d.chain.is_empty() {
            let chain: Vec<String> = d
                .chain
                .iter()
                .map(|c| format!("{} index {}", c.model, c.index))
                .collect();
            writeln!(out, "  chain: {}", chain.join(" -> "))?;
        }
        match &d.why {
            Why::Given => writeln!(out, "  why: the input gave this address (checked, §5.3)")?,
            Why::Chipset { rule } => writeln!(out, "  why: chipset rule (§5.8): {rule}")?,
            Why::SharedSlot { with } => writeln!(
                out,
                "  why: USB2 controllers of one index share a slot (§5.9 step 5): joined {}",
                self.name_of(*with)
            )?,
            Why::NoPciAddress { address_type } => writeln!(
                out,
                "  why: not on PCI (address type '{address_type}', §3.4)"
            )?,
            Why::Searched(s) => {
                writeln!(
                    out,
                    "  why: first free compatible slot, searching from bus 0 (§5.6):"
                )?;
                for p in &s.passed {
                    writeln!(
                        out,
                        "    bus {:02x} ({}): {}",
                        p.bus,
                        p.model,
                        self.passed_text(&p.reason)
                    )?;
                }
                if let Some(found) = s.found {
                    let lower = if s.skipped_slots.is_empty() {
                        String::new()
                    } else {
                        format!(
                            " after {}",
                            self.slots_text(&s.skipped_slots, s.skipped_slots.len())
                        )
                    };
                    let what = if found.function().as_u8() == 0 {
                        format!("slot {:02x} is free", found.slot().as_u8())
                    } else {
                        format!(
                            "function {} of slot {:02x} is free (the slot is shared, one device per function)",
                            found.function().as_u8(),
                            found.slot().as_u8()
                        )
                    };
                    writeln!(out, "    bus {:02x}: {what}{lower}", found.bus())?;
                } else {
                    writeln!(out, "    no bus had a free compatible slot")?;
                }
            }
        }
        Ok(())
    }

    fn passed_text(&self, p: &Passed) -> String {
        match p {
            Passed::Full { taken, slots } => {
                format!("full ({})", self.slots_text(slots, *taken))
            }
            Passed::WrongFlags { kind } => format!("wrong flags: does not accept a {kind}"),
            Passed::ExplicitOnly => {
                "wrong flags: takes only devices with an explicit address".to_string()
            }
            Passed::NotHotpluggable => "not hot-pluggable".to_string(),
            Passed::NotIntegrated => "integrated devices only sit on bus 0".to_string(),
            Passed::HeldBack { group } => {
                format!("held back for isolation group {group} (§5.15)")
            }
        }
    }

    fn slots_text(&self, slots: &[SlotTaken], total: usize) -> String {
        const SHOWN: usize = 4;
        let mut parts: Vec<String> = slots
            .iter()
            .take(SHOWN)
            .map(|s| match s.by {
                Taker::Device(i) => format!("slot {:02x} taken by {}", s.slot, self.name_of(i)),
                Taker::Reserved(why) => format!("slot {:02x} reserved: {why}", s.slot),
            })
            .collect();
        let total = total.max(slots.len());
        if total > SHOWN {
            parts.push(format!("{} more taken", total - SHOWN));
        }
        parts.join(", ")
    }
}

impl fmt::Display for Refusal {
    /// ```
    /// use pciplan::{AllocError, Capabilities, Error, ErrorClass, Machine, Plan};
    /// let plan = Plan::new(Machine::q35(), Capabilities::qemu_8_0_x86_64());
    /// let e = Error::Assign { class: ErrorClass::Internal, device: None, reason: AllocError::NoFreeSlot };
    /// assert!(pciplan::explain::Refusal::new(e, &plan).to_string().starts_with("refused"));
    /// ```
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "refused: {}", self.message)?;
        writeln!(f, "  rule: {} {}", self.section, self.rule.title())?;
        if !self.devices.is_empty() {
            writeln!(f, "  devices: {}", self.devices.join("; "))?;
        }
        writeln!(f, "  fix: {}", self.fix)
    }
}
