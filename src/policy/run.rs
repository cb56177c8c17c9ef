//! The passes of a policy around libvirt's algorithm (see the module docs).

use super::{Group, IoWindows, Layout, Policy, PolicyError};
use crate::address::{Function, Multifunction, PciAddress, Slot};
use crate::controller::ControllerModel;
use crate::device::{
    Controller, ControllerKind, Device, DeviceAddress, DeviceKind, FlagContext, HostdevSource,
    connect_flags,
};
use crate::diff::Identity;
use crate::error::{AllocError, ConfigError, Error};
use crate::explain::Selector;
use crate::flags::ConnectFlags;
use crate::plan::{Journal, LiveSet, Plan};

/// Functions per slot.
const FUNCTIONS: usize = 8;
/// The most spare ports a policy may ask for (more is a policy file error).
pub(crate) const MAX_SPARE_PORTS: u32 = 256;

/// Devices put together on one slot: original positions, function 0 first,
/// with the function each gets.
type Pack = Vec<(usize, u8)>;

pub(super) fn run(plan: &mut Plan, policy: &Policy, ids: &[Identity]) -> Result<(), Error> {
    let layout = layout_for(plan, policy)?;
    let n = plan.devices.len();
    let groups = resolve_groups(plan, &policy.groups, ids)?;
    let mut held = vec![false; n];
    let given: std::collections::BTreeSet<u32> = plan
        .devices
        .iter()
        .filter(|d| d.address.present().is_some())
        .filter_map(|d| d.kind.controller())
        .filter(|c| c.pci_model().is_some())
        .map(Controller::idx)
        .collect();
    for m in &groups {
        for &i in &m.new {
            mark(&mut held, i);
        }
    }
    let mut packs = if policy.host_multifunction {
        host_packs(plan, &held)
    } else {
        Vec::new()
    };
    for p in &packs {
        for &(i, _) in p.iter().skip(1) {
            mark(&mut held, i);
        }
    }
    let pos = match place(plan, &held, 0) {
        Ok(pos) => pos,
        Err(first) if policy.expand && is_capacity(&first) => {
            let (pos, more) = expand(plan, layout, &held, &first)?;
            packs.extend(more);
            pos
        }
        Err(e) => return Err(e),
    };
    for p in &packs {
        set_functions(plan, p, &pos)?;
    }
    if let Some(layout) = layout
        && !groups.is_empty()
    {
        let size = policy
            .group_bus_numbers
            .unwrap_or(super::DEFAULT_GROUP_BUS_NUMBERS);
        build_groups(plan, layout, &policy.groups, &groups, &pos, size)?;
    }
    hotplug_off(plan, &policy.hotplug_off);
    plan.assign()?;
    if let Some(layout) = layout
        && policy.spare_ports > 0
    {
        add_spares(plan, layout, policy.spare_ports)?;
    }
    seal_port_slots(plan, &given);
    check_budgets(plan, policy)?;
    if policy.strict {
        crate::topology::Topology::from_plan(plan)
            .map_err(|e| policy_error(PolicyError::Strict(strip_class(&e))))?;
    }
    Ok(())
}

fn strip_class(e: &Error) -> String {
    let s = e.to_string();
    s.strip_prefix(e.class().prefix())
        .map(str::to_string)
        .unwrap_or(s)
}

pub(crate) fn policy_error(reason: PolicyError) -> Error {
    Error::Policy {
        device: None,
        reason,
    }
}

fn mark(held: &mut [bool], i: usize) {
    if let Some(h) = held.get_mut(i) {
        *h = true;
    }
}

/// The machine's layout when a policy feature needs one.
fn layout_for(plan: &Plan, policy: &Policy) -> Result<Option<Layout>, Error> {
    let what = if policy.spare_ports > 0 {
        "spare_ports"
    } else if !policy.groups.is_empty() {
        "grouping"
    } else if policy.expand {
        "expand"
    } else if policy.host_multifunction {
        "host_multifunction"
    } else {
        return Ok(Layout::of(plan, "policy").ok());
    };
    let layout = Layout::of(plan, what).map_err(policy_error)?;
    if !policy.groups.is_empty() && layout.expander().is_none() {
        return Err(policy_error(PolicyError::Unsupported {
            what: "grouping",
            machine: plan.machine().name().to_string(),
        }));
    }
    Ok(Some(layout))
}

/// The devices of each group, to place (positions) and placed (addresses);
/// no device may be in two groups.
fn resolve_groups(plan: &Plan, groups: &[Group], ids: &[Identity]) -> Result<Vec<Members>, Error> {
    let mut owner: Vec<Option<usize>> = vec![None; plan.devices.len()];
    let ctx = plan.flag_context();
    let mut out = Vec::new();
    for (g, group) in groups.iter().enumerate() {
        let mut members = Vec::new();
        let mut placed = Vec::new();
        for sel in &group.devices {
            // A selector may name a device not there (yet): a policy is
            // written once for a guest whose devices come and go.
            for i in select(plan, sel, ids) {
                match owner.get(i).copied().flatten() {
                    Some(other) if other != g => {
                        return Err(policy_error(PolicyError::TwoGroups {
                            device: plan
                                .devices
                                .get(i)
                                .map(ToString::to_string)
                                .unwrap_or_default(),
                            first: groups.get(other).map(|o| o.key.clone()).unwrap_or_default(),
                            second: group.key.clone(),
                        }));
                    }
                    Some(_) => {}
                    None => {
                        if let Some(o) = owner.get_mut(i) {
                            *o = Some(g);
                        }
                        match plan.devices.get(i).and_then(|d| d.address.present()) {
                            Some(a) => placed.push(a),
                            None if is_endpoint(plan, &ctx, i) => members.push(i),
                            None => {}
                        }
                    }
                }
            }
        }
        members.sort_unstable();
        out.push(Members {
            group: g,
            new: members,
            placed,
        });
    }
    out.retain(|m| !m.new.is_empty());
    Ok(out)
}

/// The devices of one group: positions of those to place, addresses of
/// those placed by an earlier plan.
struct Members {
    group: usize,
    new: Vec<usize>,
    placed: Vec<PciAddress>,
}

/// The positions a selector picks, in the plan's device order.
fn select(plan: &Plan, sel: &Selector, ids: &[Identity]) -> Vec<usize> {
    let mut ordinal = 0usize;
    let mut out = Vec::new();
    for (i, d) in plan.devices.iter().enumerate() {
        let hit = match sel {
            Selector::Element {
                element,
                ordinal: want,
            } => {
                if d.kind.element() == element.as_str() {
                    ordinal += 1;
                    ordinal == *want
                } else {
                    false
                }
            }
            _ => {
                let own;
                let id = match ids.get(i) {
                    Some(id) => id,
                    None => {
                        own = Identity::of_device(d);
                        &own
                    }
                };
                sel.matches_identity(id)
            }
        };
        if hit {
            out.push(i);
        }
    }
    out
}

/// Whether device `i` is an endpoint that takes a PCI slot of its own: not
/// a controller, with conventional or PCI Express flags, not integrated.
fn is_endpoint(plan: &Plan, ctx: &FlagContext<'_>, i: usize) -> bool {
    let Some(d) = plan.devices.get(i) else {
        return false;
    };
    if matches!(d.kind, DeviceKind::Controller(_)) {
        return false;
    }
    let flags = connect_flags(&d.kind, &d.address, ctx);
    flags.intersects(ConnectFlags::PCI_DEVICE | ConnectFlags::PCIE_DEVICE)
        && !flags.contains(ConnectFlags::INTEGRATED)
}

/// Devices that may share a slot with others under `expand`: endpoints
/// without an address, not passed through from the host (their function
/// layout is the host's) and not already held.
fn packable(plan: &Plan, ctx: &FlagContext<'_>, i: usize) -> bool {
    plan.devices.get(i).is_some_and(|d| {
        d.address.is_wanted()
            && matches!(
                d.kind,
                DeviceKind::Disk { .. }
                    | DeviceKind::Interface { hostdev: None, .. }
                    | DeviceKind::Filesystem { .. }
                    | DeviceKind::Rng(_)
                    | DeviceKind::Input { .. }
            )
    }) && is_endpoint(plan, ctx, i)
}

/// `expand`: the packable devices in libvirt's order, eight to a slot.
fn expand_packs(plan: &Plan, held: &[bool]) -> Vec<Pack> {
    packable_order(plan, held)
        .chunks(FUNCTIONS)
        .filter(|c| c.len() > 1)
        .map(|c| c.iter().zip(0u8..).map(|(&i, f)| (i, f)).collect())
        .collect()
}

/// The packable devices not held, in libvirt's order.
fn packable_order(plan: &Plan, held: &[bool]) -> Vec<usize> {
    let ctx = plan.flag_context();
    plan.iteration_order()
        .into_iter()
        .filter(|&i| !held.get(i).copied().unwrap_or(true) && packable(plan, &ctx, i))
        .collect()
}

/// Extra pci-bridges `expand` may add on pc, where libvirt's two passes
/// disagree by a bridge at some device counts (spec §5.13).
const EXTRA_BRIDGES: u32 = 3;

/// The most devices libvirt's layout holds on pc, one to a slot behind
/// pci-bridges (its dry run then needs a 257th bus).
const PC_CEILING: usize = 7679;

/// `expand`, once libvirt's algorithm has run out of room: first
/// libvirt's own shape with up to [`EXTRA_BRIDGES`] more pci-bridges (pc),
/// then the packable devices eight to a slot (with the same extra bridges).
fn expand(
    plan: &mut Plan,
    layout: Option<Layout>,
    held: &[bool],
    first: &Error,
) -> Result<(Vec<usize>, Vec<Pack>), Error> {
    let extras = if layout == Some(Layout::Pci) {
        EXTRA_BRIDGES
    } else {
        0
    };
    // More bridges only help where a bridge found no slot (the holes), not
    // where the bus numbers ran out, and not beyond what libvirt's layout
    // holds at all.
    let ctx = plan.flag_context();
    let endpoints = (0..plan.devices.len())
        .filter(|&i| {
            plan.devices.get(i).is_some_and(|d| d.address.is_wanted()) && is_endpoint(plan, &ctx, i)
        })
        .count();
    if is_hole(first) && endpoints <= PC_CEILING {
        for extra in 1..=extras {
            match place(plan, held, extra) {
                Ok(pos) => return Ok((pos, Vec::new())),
                Err(e) if is_hole(&e) => {}
                Err(_) => break,
            }
        }
    }
    let packs = expand_packs(plan, held);
    let mut held2 = held.to_vec();
    for p in &packs {
        for &(i, _) in p.iter().skip(1) {
            mark(&mut held2, i);
        }
    }
    let mut last = None;
    for extra in 0..=extras {
        match place(plan, &held2, extra) {
            Ok(pos) => return Ok((pos, packs)),
            Err(e) if is_hole(&e) => last = Some(e),
            Err(e) if is_capacity(&e) => {
                last = Some(e);
                break;
            }
            Err(e) => return Err(e),
        }
    }
    let e = last.unwrap_or_else(|| bus_numbers_exhausted(0, 0));
    Err(ceiling(plan, held, extras, &e))
}

/// `host_multifunction`: passthrough devices without an address whose host
/// sources share one host slot, function 0 first. Each keeps its host
/// function number when the host's function 0 is among them; otherwise
/// they are numbered from 0 in host order.
fn host_packs(plan: &Plan, held: &[bool]) -> Vec<Pack> {
    let mut by_slot: std::collections::BTreeMap<(u16, u8, u8), Vec<(u8, usize)>> =
        std::collections::BTreeMap::new();
    let ctx = plan.flag_context();
    for (i, d) in plan.devices.iter().enumerate() {
        if held.get(i).copied().unwrap_or(true)
            || !d.address.is_wanted()
            || !is_endpoint(plan, &ctx, i)
        {
            continue;
        }
        let source = match &d.kind {
            DeviceKind::Hostdev(HostdevSource::Pci(Some(a)))
            | DeviceKind::Interface {
                hostdev: Some(HostdevSource::Pci(Some(a))),
                ..
            } => *a,
            _ => continue,
        };
        by_slot
            .entry((source.domain(), source.bus(), source.slot().as_u8()))
            .or_default()
            .push((source.function().as_u8(), i));
    }
    by_slot
        .into_values()
        .filter(|v| v.len() > 1)
        .map(|mut v| {
            v.sort_unstable();
            v.dedup_by_key(|e| e.0);
            let keep_numbers = v.first().is_some_and(|e| e.0 == 0);
            v.iter()
                .zip(0u8..)
                .map(|(&(f, i), k)| (i, if keep_numbers { f } else { k }))
                .collect::<Pack>()
        })
        .filter(|p: &Pack| p.len() > 1)
        .collect()
}

/// Places every device but the held ones with libvirt's algorithm, then
/// puts the held ones back, without addresses, where they were in the
/// device list. Returns each original position's new position.
fn place(plan: &mut Plan, held: &[bool], bridges: u32) -> Result<Vec<usize>, Error> {
    if !held.contains(&true) && bridges == 0 {
        plan.assign()?;
        return Ok((0..plan.devices.len()).collect());
    }
    let base = assign_without(plan, held, bridges)?;
    Ok(merge(plan, base, held))
}

/// A copy of the plan without the held devices and with `bridges` more
/// pci-bridges, assigned. Each device's `origin` holds its original
/// position meanwhile.
fn assign_without(plan: &Plan, held: &[bool], bridges: u32) -> Result<Plan, Error> {
    let mut base = plan.clone();
    base.journal = Journal::default();
    base.live = LiveSet::default();
    let mut kept = Vec::with_capacity(base.devices.len());
    for (i, mut d) in std::mem::take(&mut base.devices).into_iter().enumerate() {
        if !held.get(i).copied().unwrap_or(false) {
            d.origin = Some(i);
            kept.push(d);
        }
    }
    base.devices = kept;
    for _ in 0..bridges {
        add_controller(&mut base, ControllerModel::PciBridge, 0)?;
    }
    base.assign()?;
    Ok(base)
}

fn merge(plan: &mut Plan, mut base: Plan, held: &[bool]) -> Vec<usize> {
    let mut originals: Vec<Option<Device>> = plan.split_devices(0).into_iter().map(Some).collect();
    let n = originals.len();
    let mut pos = vec![usize::MAX; n];
    let mut next = 0usize;
    let put_held_until = |plan: &mut Plan,
                          upto: usize,
                          next: &mut usize,
                          pos: &mut Vec<usize>,
                          originals: &mut Vec<Option<Device>>| {
        while *next < upto.min(n) {
            if held.get(*next).copied().unwrap_or(false)
                && let Some(d) = originals.get_mut(*next).and_then(Option::take)
            {
                let at = plan.append_device(d);
                if let Some(p) = pos.get_mut(*next) {
                    *p = at;
                }
            }
            *next += 1;
        }
    };
    for mut d in std::mem::take(&mut base.devices) {
        if let Some(t) = d.origin.filter(|&t| t < n) {
            put_held_until(plan, t, &mut next, &mut pos, &mut originals);
            next = next.max(t.saturating_add(1));
            d.origin = originals
                .get(t)
                .and_then(|o| o.as_ref())
                .and_then(|o| o.origin);
            let at = plan.append_device(d);
            if let Some(p) = pos.get_mut(t) {
                *p = at;
            }
        } else {
            plan.append_device(d);
        }
    }
    put_held_until(plan, n, &mut next, &mut pos, &mut originals);
    pos
}

/// Gives the devices of a pack the slot of its first device, as functions.
fn set_functions(plan: &mut Plan, pack: &Pack, pos: &[usize]) -> Result<(), Error> {
    let Some(&(lead, _)) = pack.first() else {
        return Ok(());
    };
    let lead = pos.get(lead).copied().unwrap_or(usize::MAX);
    let Some(addr) = plan.devices.get(lead).and_then(|d| d.address.present()) else {
        return Ok(());
    };
    if addr.function().as_u8() != 0 {
        return Ok(());
    }
    plan.set_address(
        lead,
        DeviceAddress::Pci(addr.with_multifunction(Multifunction::On)),
    );
    for &(i, f) in pack.iter().skip(1) {
        let Ok(function) = Function::new(f) else {
            continue;
        };
        let at = pos.get(i).copied().unwrap_or(usize::MAX);
        plan.set_address(at, DeviceAddress::Pci(addr.with_function(function)));
    }
    Ok(())
}

/// The next free PCI controller index (never 0, the root's).
fn next_index(plan: &Plan) -> u32 {
    plan.devices
        .iter()
        .filter_map(|d| d.kind.controller())
        .filter(|c| matches!(c.kind, ControllerKind::Pci(_)))
        .map(|c| c.idx().saturating_add(1))
        .max()
        // Index 0 is the root, added by defaults when not given.
        .map_or(1, |n| n.max(1))
}

fn bus_numbers_exhausted(fits: usize, wanted: usize) -> Error {
    policy_error(PolicyError::Ceiling {
        ceiling: "bus numbers",
        used: 256,
        limit: 256,
        fits,
        wanted,
    })
}

fn pci_address(bus: u32, slot: usize, function: usize) -> Option<PciAddress> {
    let bus = u8::try_from(bus).ok()?;
    let slot = Slot::new(u8::try_from(slot).ok()?).ok()?;
    let function = Function::new(u8::try_from(function).ok()?).ok()?;
    Some(PciAddress::new(0, bus, slot, function))
}

/// One expander bus per group, with the group's devices behind it: on
/// PCI Express one root port per device (eight to a slot of the
/// expander's bus), on pc the devices on the expander's own slots. A group
/// whose devices an earlier plan put behind an expander bus gets its new
/// devices behind that one while it has room, then behind a new one on the
/// same node. New expander buses take bus numbers below
/// every existing one, `size` of them (room for later devices). The
/// devices get their addresses first, then the controllers are added
/// (adding moves positions).
fn build_groups(
    plan: &mut Plan,
    layout: Layout,
    groups: &[Group],
    members: &[Members],
    pos: &[usize],
    size: u32,
) -> Result<(), Error> {
    let Some(expander) = layout.expander() else {
        return Ok(());
    };
    let ports = layout.members_need_ports();
    let wanted: usize = members.iter().map(|m| m.new.len()).sum();
    let mut index = next_index(plan);
    let mut added: Vec<Device> = Vec::new();
    // Bus numbers: each expander's range runs from its busNr to the next
    // higher one.
    let mut ranges: Vec<(u32, u32)> = expanders(plan);
    let mut top = ranges.iter().map(|r| r.1).min().unwrap_or(255).min(255);
    let mut used: std::collections::BTreeSet<(u32, u8, u8)> = plan
        .devices
        .iter()
        .filter_map(|d| d.address.present())
        .map(|a| (u32::from(a.bus()), a.slot().as_u8(), a.function().as_u8()))
        .collect();
    for m in members {
        let Some(group) = groups.get(m.group) else {
            continue;
        };
        // The newest expander bus an earlier plan put the group behind.
        let mut current = m
            .placed
            .iter()
            .filter_map(|a| expander_behind(plan, *a, ports))
            .max();
        for (k, &i) in m.new.iter().enumerate() {
            let full = current.is_none_or(|x| {
                let (room, behind) = room_of(plan, &added, &ranges, x);
                free_place(&used, x, ports).is_none() || (ports && behind.saturating_add(1) > room)
            });
            if full {
                // A new expander bus for the group, on the same node, with
                // room for the rest of its new devices.
                let left = m.new.len().saturating_sub(k);
                let need = if ports { left.min(32 * FUNCTIONS) } else { 0 }.saturating_add(1);
                let fits = u32::try_from(need.div_ceil(8).saturating_mul(8)).unwrap_or(u32::MAX);
                // On pc the devices sit on the expander's own bus, and the
                // next expander bus keeps one number's distance, as
                // libvirt's own busNr defaults do (adjacent ones hide the
                // first one's devices from SeaBIOS).
                let size = if ports { size.max(fits).min(128) } else { 2 };
                let Some(bus_nr) = top.saturating_add(1).checked_sub(size).filter(|&b| b >= 1)
                else {
                    return Err(bus_numbers_exhausted(0, wanted));
                };
                let bus_nr = bus_nr.min(254);
                top = bus_nr.saturating_sub(1);
                let x = index;
                index = index.saturating_add(1);
                let mut c = Controller::pci(expander, x);
                if let ControllerKind::Pci(p) = &mut c.kind {
                    p.target.bus_nr = Some(bus_nr);
                    p.target.node = group.node;
                }
                added.push(Device::new(DeviceKind::Controller(c)));
                ranges.push((x, bus_nr));
                current = Some(x);
            }
            let Some(pxb) = current else {
                return Err(bus_numbers_exhausted(0, wanted));
            };
            let at = pos.get(i).copied().unwrap_or(usize::MAX);
            let Some(place) = free_place(&used, pxb, ports) else {
                return Err(bus_numbers_exhausted(0, wanted));
            };
            used.insert((pxb, place.slot().as_u8(), place.function().as_u8()));
            if ports {
                let port = index;
                index = index.saturating_add(1);
                let Some(dev_at) = pci_address(port, 0, 0) else {
                    return Err(bus_numbers_exhausted(0, wanted));
                };
                let mut d = Device::new(DeviceKind::Controller(Controller::pci(
                    ControllerModel::PcieRootPort,
                    port,
                )));
                // Function 0 is multifunction from the start, so that later
                // ports in the slot change nothing.
                let place = if place.function().as_u8() == 0 {
                    place.with_multifunction(Multifunction::On)
                } else {
                    place
                };
                d.address = DeviceAddress::Pci(place);
                added.push(d);
                plan.set_address(at, DeviceAddress::Pci(dev_at));
            } else {
                plan.set_address(at, DeviceAddress::Pci(place));
            }
        }
    }
    if index > 256 {
        return Err(bus_numbers_exhausted(0, wanted));
    }
    for d in added {
        plan.insert_device(d);
    }
    Ok(())
}

/// An expander bus's bus numbers (from its busNr to the next range) and
/// how many of them its own bus and the ports on it take.
fn room_of(plan: &Plan, added: &[Device], ranges: &[(u32, u32)], pxb: u32) -> (usize, usize) {
    let own = ranges.iter().find(|r| r.0 == pxb).map_or(0, |r| r.1);
    let room = ranges
        .iter()
        .map(|r| r.1)
        .filter(|&b| b > own)
        .min()
        .unwrap_or(256)
        .saturating_sub(own);
    let behind = ports_behind(plan, pxb) + added.iter().filter(|d| on_bus(d, pxb)).count();
    (usize::try_from(room).unwrap_or(0), behind.saturating_add(1))
}

/// Every expander bus: index and busNr.
fn expanders(plan: &Plan) -> Vec<(u32, u32)> {
    plan.devices
        .iter()
        .filter_map(|d| d.kind.controller())
        .filter_map(|c| match &c.kind {
            ControllerKind::Pci(p)
                if matches!(
                    p.model,
                    Some(ControllerModel::PciExpanderBus | ControllerModel::PcieExpanderBus)
                ) =>
            {
                Some((c.idx(), p.target.bus_nr.unwrap_or(255)))
            }
            _ => None,
        })
        .collect()
}

/// The expander bus a placed group member sits behind (through its port
/// on PCI Express).
fn expander_behind(plan: &Plan, a: PciAddress, ports: bool) -> Option<u32> {
    let bus = u32::from(a.bus());
    let bus = if ports {
        let port = plan.devices.iter().find(|d| {
            d.kind.controller().is_some_and(|c| {
                c.pci_model() == Some(ControllerModel::PcieRootPort) && c.idx() == bus
            })
        })?;
        u32::from(port.address.present()?.bus())
    } else {
        bus
    };
    let model = plan.pci_controller(bus)?.pci_model()?;
    matches!(
        model,
        ControllerModel::PciExpanderBus | ControllerModel::PcieExpanderBus
    )
    .then_some(bus)
}

fn on_bus(d: &Device, bus: u32) -> bool {
    d.address
        .present()
        .is_some_and(|a| u32::from(a.bus()) == bus)
}

/// Ports already on the expander's bus.
fn ports_behind(plan: &Plan, pxb: u32) -> usize {
    plan.devices
        .iter()
        .filter(|d| d.kind.controller().is_some_and(|c| c.pci_model().is_some()) && on_bus(d, pxb))
        .count()
}

/// The first free place on an expander's bus: slot.function for ports
/// (eight to a slot), a whole slot for devices.
fn free_place(
    used: &std::collections::BTreeSet<(u32, u8, u8)>,
    bus: u32,
    ports: bool,
) -> Option<PciAddress> {
    let taken = |s: u8| (0..8u8).any(|f| used.contains(&(bus, s, f)));
    for slot in 0..32u8 {
        if ports {
            for f in 0..8u8 {
                if !used.contains(&(bus, slot, f)) {
                    return pci_address(bus, usize::from(slot), usize::from(f));
                }
            }
        } else if !taken(slot) {
            return pci_address(bus, usize::from(slot), 0);
        }
    }
    None
}

/// Root ports this plan placed at function 0 of a slot get
/// `multifunction='on'` when they have none, so that a port a later plan
/// puts in the same slot changes nothing that was there.
fn seal_port_slots(plan: &mut Plan, given: &std::collections::BTreeSet<u32>) {
    let roots: Vec<u32> = plan
        .devices
        .iter()
        .filter_map(|d| d.kind.controller())
        .filter(|c| {
            matches!(
                c.pci_model(),
                Some(ControllerModel::PcieRoot | ControllerModel::PcieExpanderBus)
            )
        })
        .map(Controller::idx)
        .collect();
    let seal: Vec<(usize, PciAddress)> = plan
        .devices
        .iter()
        .enumerate()
        .filter_map(|(i, d)| {
            let c = d.kind.controller()?;
            if c.pci_model() != Some(ControllerModel::PcieRootPort) || given.contains(&c.idx()) {
                return None;
            }
            let a = d.address.present()?;
            (a.function().as_u8() == 0
                && a.multifunction() == Multifunction::Absent
                && roots.contains(&u32::from(a.bus())))
            .then_some((i, a))
        })
        .collect();
    for (i, a) in seal {
        plan.set_address(
            i,
            DeviceAddress::Pci(a.with_multifunction(Multifunction::On)),
        );
    }
}

/// `hotplug_off`: the ports of the devices of these elements get
/// `hotplug='off'` (PCI Express ports only; other buses have no switch).
fn hotplug_off(plan: &mut Plan, elements: &[String]) {
    if elements.is_empty() {
        return;
    }
    let buses: std::collections::BTreeSet<u32> = plan
        .devices
        .iter()
        .filter(|d| elements.iter().any(|e| e == d.kind.element()))
        .filter_map(|d| d.address.present())
        .map(|a| u32::from(a.bus()))
        .collect();
    // The ports among them, by position: one pass over the list.
    let ports: Vec<usize> = (0..plan.devices.len())
        .filter(|&i| {
            plan.devices
                .get(i)
                .and_then(|d| d.kind.controller())
                .is_some_and(|c| {
                    buses.contains(&c.idx())
                        && matches!(
                            c.pci_model(),
                            Some(
                                ControllerModel::PcieRootPort
                                    | ControllerModel::PcieSwitchDownstreamPort
                            )
                        )
                })
        })
        .collect();
    for i in ports {
        if let Some(d) = plan.edit_device(i)
            && let DeviceKind::Controller(Controller {
                kind: ControllerKind::Pci(p),
                ..
            }) = &mut d.kind
            && p.target.hotplug.is_none()
        {
            p.target.hotplug = Some(false);
        }
    }
}

/// Adds a PCI controller of `model` without an address at the next free
/// index; past index 255 the bus numbers are exhausted (`wanted` devices
/// or places were asked for).
fn add_controller(plan: &mut Plan, model: ControllerModel, wanted: usize) -> Result<(), Error> {
    let index = next_index(plan);
    if index > 255 {
        return Err(bus_numbers_exhausted(0, wanted));
    }
    plan.insert_device(Device::new(DeviceKind::Controller(Controller::pci(
        model, index,
    ))));
    Ok(())
}

/// `spare_ports`: adds empty hot-pluggable places until there are `n`:
/// root ports on PCI Express (each one place), pci-bridges on pc (31 free
/// slots each, less the slot it takes). On pc the last free slot does not
/// count: libvirt's cold plan keeps it for the next pci-bridge, so a device
/// hot-added there would not be where a cold plan puts it.
fn add_spares(plan: &mut Plan, layout: Layout, n: u32) -> Result<(), Error> {
    let n = usize::try_from(n.min(MAX_SPARE_PORTS)).unwrap_or(0);
    let n = match layout {
        Layout::Pcie { .. } => n,
        Layout::Pci => n.saturating_add(1),
    };
    let free = |plan: &Plan| {
        let b = crate::capacity::budgets(plan);
        match layout {
            Layout::Pcie { .. } => b.free_hotplug_ports,
            Layout::Pci => b.free_hotplug_slots,
        }
    };
    let have = free(plan);
    if have >= n {
        return Ok(());
    }
    match layout {
        Layout::Pcie { .. } => {
            for _ in have..n {
                add_controller(plan, layout.spare_model(), n)?;
            }
            plan.assign()
        }
        Layout::Pci => {
            // Each bridge adds its slots; bounded by the spare limit.
            while free(plan) < n {
                add_controller(plan, layout.spare_model(), n)?;
                plan.assign()?;
            }
            Ok(())
        }
    }
}

fn check_budgets(plan: &Plan, policy: &Policy) -> Result<(), Error> {
    let b = crate::capacity::budgets(plan);
    if policy.io_windows == IoWindows::Refuse && b.io_windows_used > b.io_windows_max {
        return Err(policy_error(PolicyError::Budget {
            budget: "I/O windows",
            used: b.io_windows_used,
            limit: b.io_windows_max,
        }));
    }
    // Expander buses take their bus numbers from their busNr up: the
    // buses of the root's own hierarchy must stay below the lowest one.
    let lowest = plan
        .devices
        .iter()
        .filter_map(|d| d.kind.controller())
        .filter_map(|c| match &c.kind {
            ControllerKind::Pci(p) => p.target.bus_nr,
            _ => None,
        })
        .min();
    if let Some(lowest) = lowest {
        let root_buses = root_hierarchy_buses(plan);
        if root_buses > usize::try_from(lowest).unwrap_or(0) {
            return Err(policy_error(PolicyError::Budget {
                budget: "bus numbers below the lowest expander bus",
                used: root_buses,
                limit: usize::try_from(lowest).unwrap_or(0),
            }));
        }
    }
    Ok(())
}

/// Bus numbers the firmware gives the root's own hierarchy: the root bus
/// and every bus-providing controller not behind an expander bus.
fn root_hierarchy_buses(plan: &Plan) -> usize {
    let parent_of = |index: u32| -> Option<(Option<ControllerModel>, u32)> {
        plan.devices.iter().find_map(|d| {
            let c = d.kind.controller()?;
            if !matches!(c.kind, ControllerKind::Pci(_)) || c.idx() != index {
                return None;
            }
            Some((
                c.pci_model(),
                d.address.present().map_or(0, |a| u32::from(a.bus())),
            ))
        })
    };
    let mut count = 0usize;
    for d in &plan.devices {
        let Some(model) = d.kind.controller().and_then(Controller::pci_model) else {
            continue;
        };
        // An expander's own bus counts in its range.
        if matches!(
            model,
            ControllerModel::PciExpanderBus | ControllerModel::PcieExpanderBus
        ) {
            continue;
        }
        let mut bus = d.address.present().map_or(0, |a| u32::from(a.bus()));
        let mut behind_expander = false;
        // Up to the root (bounded: a cycle is no tree, rule 19).
        for _ in 0..256 {
            match parent_of(bus) {
                Some((
                    Some(ControllerModel::PciExpanderBus | ControllerModel::PcieExpanderBus),
                    _,
                )) => {
                    behind_expander = true;
                    break;
                }
                Some((Some(m), up)) if !m.is_root() && !model.is_root() => bus = up,
                _ => break,
            }
        }
        if !behind_expander {
            count += 1;
        }
    }
    count
}

/// A pci-bridge libvirt's dry run counted but its real pass found no slot
/// for (spec §5.13).
fn is_hole(e: &Error) -> bool {
    matches!(
        e,
        Error::Assign {
            reason: AllocError::ControllerNotAddable {
                model: "pci-bridge"
            },
            ..
        }
    )
}

fn is_capacity(e: &Error) -> bool {
    matches!(
        e,
        Error::Assign {
            reason: AllocError::NoFreeSlot
                | AllocError::ControllerNotAddable { .. }
                | AllocError::CannotAddBus { .. }
                | AllocError::TooManyBuses { .. },
            ..
        } | Error::Config {
            reason: ConfigError::IndexTooHigh { .. },
            ..
        }
    )
}

/// The ceiling `expand` reached, with how many of the devices to place
/// fit: the largest prefix (in libvirt's order) of the packable devices,
/// found by bisection.
fn ceiling(plan: &Plan, held: &[bool], extras: u32, e: &Error) -> Error {
    // Every packable device, also a last one left alone in its slot.
    let order = packable_order(plan, held);
    let wanted = order.len();
    let attempt = |m: usize| -> Option<Plan> {
        let mut h = held.to_vec();
        for (k, &i) in order.iter().enumerate() {
            // Past the prefix: left out. Inside it: followers are held.
            if k >= m || k % FUNCTIONS != 0 {
                mark(&mut h, i);
            }
        }
        (0..=extras).find_map(|extra| assign_without(plan, &h, extra).ok())
    };
    let (mut lo, mut hi) = (0usize, wanted);
    let mut best = None;
    while hi > lo {
        let mid = lo + (hi - lo).div_ceil(2);
        match attempt(mid) {
            Some(p) => {
                lo = mid;
                best = Some(p);
            }
            None => hi = mid - 1,
        }
    }
    let root_slots = |p: &Plan| {
        let mut slots = [false; 32];
        for a in p.devices.iter().filter_map(|d| d.address.present()) {
            if a.bus() == 0
                && let Some(s) = slots.get_mut(usize::from(a.slot().as_u8()))
            {
                *s = true;
            }
        }
        slots.iter().filter(|&&s| s).count()
    };
    let (ceiling, used, limit) = match e {
        Error::Assign {
            reason: AllocError::NoFreeSlot | AllocError::ControllerNotAddable { .. },
            ..
        } => {
            let n = best.as_ref().map_or(0, root_slots);
            ("root complex slots", n, n)
        }
        _ => ("bus numbers", 256, 256),
    };
    policy_error(PolicyError::Ceiling {
        ceiling,
        used,
        limit,
        fits: lo,
        wanted,
    })
}
