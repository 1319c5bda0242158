//! Maintainer scripts for a package that ships a systemd unit, behaving as
//! debhelper's do: enable the unit on install (through deb-systemd-helper,
//! which remembers an administrator's `disable` across upgrades), start it
//! on install and restart it on upgrade, stop it on removal, forget it on
//! purge. Without deb-systemd-helper they fall back to `systemctl`; with no
//! running systemd (a container, a chroot, `dpkg --root`) nothing is
//! started or stopped and the scripts still succeed.

/// The unit name quoted for sh (unit names never hold a `'`; checked in
/// [`crate::layout`]).
fn quoted(unit: &str) -> String {
    format!("'{unit}'")
}

/// Shell prelude: the checks every script shares.
const PRELUDE: &str = "#!/bin/sh\nset -e\n\n\
# systemd is running on this machine (not a chroot, container build or dpkg --root).\n\
systemd_running() {\n\
\t[ -z \"${DPKG_ROOT:-}\" ] && [ -d /run/systemd/system ]\n\
}\n\n";

/// `postinst`: enable on first install (or keep the administrator's choice
/// on upgrade), then start, or restart on upgrade.
pub fn postinst(unit: &str) -> String {
    let u = quoted(unit);
    format!(
        "{PRELUDE}\
case \"$1\" in\n\
configure|abort-upgrade|abort-deconfigure|abort-remove)\n\
\tif command -v deb-systemd-helper >/dev/null 2>&1; then\n\
\t\tdeb-systemd-helper unmask {u} >/dev/null || true\n\
\t\tif deb-systemd-helper --quiet was-enabled {u}; then\n\
\t\t\tdeb-systemd-helper enable {u} >/dev/null || true\n\
\t\telse\n\
\t\t\tdeb-systemd-helper update-state {u} >/dev/null || true\n\
\t\tfi\n\
\telif [ -z \"$2\" ] && command -v systemctl >/dev/null 2>&1; then\n\
\t\t# First install only: an upgrade keeps whatever the administrator chose.\n\
\t\tsystemctl ${{DPKG_ROOT:+--root=\"$DPKG_ROOT\"}} enable {u} >/dev/null 2>&1 || true\n\
\tfi\n\
\tif systemd_running; then\n\
\t\tsystemctl --system daemon-reload >/dev/null || true\n\
\t\tif [ -n \"$2\" ]; then action=restart; else action=start; fi\n\
\t\tif command -v deb-systemd-invoke >/dev/null 2>&1; then\n\
\t\t\tdeb-systemd-invoke \"$action\" {u} >/dev/null || true\n\
\t\telse\n\
\t\t\tsystemctl \"$action\" {u} >/dev/null || true\n\
\t\tfi\n\
\tfi\n\
\t;;\n\
esac\n\
exit 0\n"
    )
}

/// `prerm`: stop the unit when the package is removed (not on upgrade: the
/// new version's postinst restarts it).
pub fn prerm(unit: &str) -> String {
    let u = quoted(unit);
    format!(
        "{PRELUDE}\
if [ \"$1\" = remove ] && systemd_running; then\n\
\tif command -v deb-systemd-invoke >/dev/null 2>&1; then\n\
\t\tdeb-systemd-invoke stop {u} >/dev/null || true\n\
\telse\n\
\t\tsystemctl stop {u} >/dev/null || true\n\
\tfi\n\
fi\n\
exit 0\n"
    )
}

/// `postrm`: reload systemd after removal; on purge forget the unit's
/// enablement state.
pub fn postrm(unit: &str) -> String {
    let u = quoted(unit);
    format!(
        "{PRELUDE}\
if [ \"$1\" = remove ] && systemd_running; then\n\
\tsystemctl --system daemon-reload >/dev/null || true\n\
fi\n\
if [ \"$1\" = purge ]; then\n\
\tif command -v deb-systemd-helper >/dev/null 2>&1; then\n\
\t\tdeb-systemd-helper purge {u} >/dev/null || true\n\
\telif command -v systemctl >/dev/null 2>&1; then\n\
\t\tsystemctl ${{DPKG_ROOT:+--root=\"$DPKG_ROOT\"}} disable {u} >/dev/null 2>&1 || true\n\
\tfi\n\
fi\n\
exit 0\n"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scripts_name_the_unit_and_guard_on_running_systemd() {
        let s = postinst("tool.service");
        assert!(s.starts_with("#!/bin/sh\nset -e\n"));
        assert!(s.contains("deb-systemd-helper enable 'tool.service'"));
        assert!(s.contains("if systemd_running; then"));
        assert!(prerm("tool.service").contains("stop 'tool.service'"));
        assert!(postrm("tool.service").contains("purge 'tool.service'"));
    }
}
