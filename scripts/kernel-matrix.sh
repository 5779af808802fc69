#!/usr/bin/env bash
# kernel-matrix: proves that a build of cgscope works on other kernels than the
# host's. For each kernel of the matrix it boots a qemu guest (Debian 12 userland
# made with debootstrap, Debian's own kernel and initramfs, no network device but
# lo) that runs a smoke check of every subcommand and the root integration tests,
# then prints one line per kernel and a summary.
#
#   sudo scripts/kernel-matrix.sh [OPTIONS]
#     --build-dir DIR   the binaries to test (default: build); built with
#                       scripts/build.sh or cmake beforehand, never rebuilt here...
#     --build           ...unless this is given: then DIR is (re)built first
#     --kernels LIST    comma-separated subset of the matrix, by name or by kernel
#                       version prefix: bookworm,bookworm-backports,trixie-backports
#                       or 6.1,6.12,7 (default: every kernel the mirror offers)
#     --smoke-only      skip the integration tests
#     --tests FILTER    run only these integration tests (a --gtest_filter pattern)
#     --guest-cmd CMD   run only CMD (bash -c, $CGSCOPE_BIN is the binary) in each
#                       guest, to look into a failure, e.g.
#                       --guest-cmd '$CGSCOPE_BIN trace --verbose -e openat -- true'
#     --timeout SECS    hard bound on one guest, boot to power-off (default 900)
#     --list            print the matrix (kernel packages) and exit
#
# The matrix, Debian's cloud kernels (linux-image-*-cloud-amd64), the newest of each:
#   bookworm            Debian 12's own 6.1 (linux-image-6.1.0-N, N from its security updates)
#   bookworm-backports  the newest kernel built for Debian 12 (+deb12): bookworm-backports
#                       or the linux-6.12 that bookworm-security carries, whichever is newer
#   trixie-backports    the newest kernel Debian builds at all (+deb13, from trixie-backports)
# An entry the mirror does not serve is left out with a note. The guest userland is
# always bookworm's (what the build is made for); only the kernel changes.
#
# Needs root. Installs what it needs on the host from Debian's packages
# (qemu-system-x86, seabios, debootstrap, e2fsprogs), asks apt about kernels
# through a private apt configuration (the host's apt sources and lists are never
# changed), and caches the base root and each kernel in /var/tmp/cgscope-matrix
# (KVM is used when /dev/kvm really runs a guest, TCG otherwise). Console logs are
# kept in /var/tmp/cgscope-matrix/logs. Exit status 0 only if every kernel passed.
set -Eeuo pipefail
# Whatever fails unhandled says where, rather than ending the run in silence.
trap 'echo "kernel-matrix: failed: \"$BASH_COMMAND\" (line $LINENO, status $?)" >&2' ERR

repo=$(cd "$(dirname "$0")/.." && pwd)
matrix_dir=$repo/scripts/matrix
cache=/var/tmp/cgscope-matrix
suite=bookworm                       # the guest userland, and what the build targets
# The matrix: each entry's apt suites and the cloud kernel packages it takes
# (the newest of them by version).
declare -A entry_suites=(
  [bookworm]="bookworm bookworm-updates bookworm-security"
  [bookworm-backports]="bookworm-backports bookworm-security bookworm-updates bookworm"
  [trixie-backports]="trixie-backports"
)
declare -A entry_pattern=(
  [bookworm]='^linux-image-6\.1\.0-[0-9]+-cloud-amd64$'                      # Debian 12's own 6.1
  [bookworm-backports]='^linux-image-[0-9]+\.[0-9]+\.[0-9]+\+deb12[^-]*-cloud-amd64$' # newer, built for 12
  [trixie-backports]='^linux-image-[0-9]+\.[0-9]+\.[0-9]+\+deb13[^-]*-cloud-amd64$'   # newest, built for 13
)
# The Debian release each entry's kernel package is made for: it is installed
# (and its initramfs made) in a root of that release.
declare -A entry_release=([bookworm]=bookworm [bookworm-backports]=bookworm [trixie-backports]=trixie)
entry_order=(bookworm bookworm-backports trixie-backports)
host_pkgs=(qemu-system-x86 seabios debootstrap e2fsprogs)
# What the smoke checks and the integration tests run, besides the libraries of
# the build (found with ldd): keep in step with the test tools that
# scripts/install-deps.sh installs. A test whose tool is missing skips or fails.
guest_tools=(bash coreutils util-linux procps kmod iproute2
  curl microsocks tinyproxy dante-server busybox-static
  graphviz  # trace_flows*_test: the DOT graph is checked with dot -Tsvg
  strace)   # trace_strace_test, trace_struct_test: decoding compared with strace's

build_dir=build
do_build=0
kernels_arg=
smoke_only=0
tests_filter=
guest_cmd=
timeout_secs=900
list_only=0

say() { echo "kernel-matrix: $*"; }
die() { echo "kernel-matrix: $*" >&2; exit 2; }

usage() { sed -n '2,/^set -/{/^set -/d;s/^# \{0,1\}//;p}' "$0"; exit "${1:-0}"; }

parse_args() {
  while (($#)); do
    case $1 in
      --build-dir) build_dir=${2:?--build-dir needs a directory}; shift ;;
      --build) do_build=1 ;;
      --kernels) kernels_arg=${2:?--kernels needs a list}; shift ;;
      --smoke-only) smoke_only=1 ;;
      --tests) tests_filter=${2:?--tests needs a gtest filter}; shift ;;
      --guest-cmd) guest_cmd=${2:?--guest-cmd needs a command}; shift ;;
      --timeout) timeout_secs=${2:?--timeout needs seconds}; shift ;;
      --list) list_only=1 ;;
      -h|--help) usage 0 ;;
      *) echo "kernel-matrix: unknown option '$1'" >&2; usage 2 >&2 ;;
    esac
    shift
  done
  [[ $timeout_secs =~ ^[0-9]+$ && $timeout_secs -ge 120 ]] || die "--timeout wants seconds, at least 120"
  # A relative --build-dir is relative to where the script was started.
  [[ $build_dir == /* ]] || build_dir=$PWD/$build_dir
}

# --- the host ---------------------------------------------------------------------

# As scripts/install-deps.sh: dpkg-query first, so a second run needs no network.
install_host_packages() {
  local p missing=()
  for p in "${host_pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  ((${#missing[@]})) || return 0
  say "installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# The Debian mirror the host uses (deb822 sources first, then the one-line format).
find_mirror() {
  local m
  m=$(awk '/^URIs:/{print $2; exit}' /etc/apt/sources.list.d/*.sources 2>/dev/null || true)
  [[ -n $m ]] || m=$(awk '$1=="deb"{for(i=2;i<=NF;i++) if($i !~ /^\[/){print $i; exit}}' /etc/apt/sources.list 2>/dev/null || true)
  [[ -n $m ]] || die "found no Debian mirror in /etc/apt/sources.list.d/*.sources or /etc/apt/sources.list"
  echo "${m%/}"
}

# The security archive: the host's own entry if it has one, else the usual
# sibling of the mirror (deb.debian.org/debian -> deb.debian.org/debian-security).
find_security_mirror() {
  local m
  m=$(awk 'BEGIN {RS = ""; FS = "\n"}
    { u = ""; s = ""
      for (i = 1; i <= NF; i++) {
        if ($i ~ /^URIs:/) { split($i, a, " "); u = a[2] }
        if ($i ~ /^Suites:/) s = $i
      }
      if (s ~ /-security/ && u != "") { print u; exit } }' /etc/apt/sources.list.d/*.sources 2>/dev/null || true)
  [[ -n $m ]] || m=$(awk '$1 == "deb" && /-security/ {for (i = 2; i <= NF; i++) if ($i !~ /^\[/) {print $i; exit}}' \
    /etc/apt/sources.list 2>/dev/null || true)
  [[ -n $m ]] || m=${mirror%/debian}/debian-security
  echo "${m%/}"
}

# A private apt (own sources, lists and cache under $cache/apt) to ask about
# kernels in suites the host does not use; the host's apt state stays as it was.
setup_private_apt() {
  local a=$cache/apt key=/usr/share/keyrings/debian-archive-keyring.gpg
  mkdir -p "$a/lists/partial" "$a/cache/archives/partial"
  {
    echo "deb [signed-by=$key] $mirror $suite main"
    echo "deb [signed-by=$key] $mirror $suite-updates main"
    echo "deb [signed-by=$key] $security_mirror $suite-security main"
    echo "deb [signed-by=$key] $mirror bookworm-backports main"
    echo "deb [signed-by=$key] $mirror trixie-backports main"
  } >"$a/sources.list"
  cat >"$a/apt.conf" <<EOF
Dir::Etc::sourcelist "$a/sources.list";
Dir::Etc::sourceparts "-";
Dir::State::Lists "$a/lists";
Dir::Cache "$a/cache";
EOF
  # A suite the mirror lacks only warns: its kernel is then left out of the matrix.
  APT_CONFIG=$a/apt.conf apt-get update -qq >"$a/update.log" 2>&1 ||
    { cat "$a/update.log" >&2; die "apt-get update with $a/apt.conf failed (see above)"; }
  sed -n 's/^W: Failed to fetch \([^ ]*\) .*/\1/p' "$a/update.log" | while read -r u; do
    say "note: apt could not fetch $u"
  done
}

papt() { APT_CONFIG=$cache/apt/apt.conf "$@"; }

# --- the matrix -------------------------------------------------------------------

# "package version suite" rows of every cloud kernel image apt knows.
kernel_candidates() {
  local names
  names=$(papt apt-cache pkgnames linux-image- | grep -E '^linux-image-[0-9][^ ]*-cloud-amd64$' || true)
  [[ -n $names ]] || return 0
  # madison: "pkg | version | URI suite/main amd64 Packages"
  # shellcheck disable=SC2086
  papt apt-cache madison $names | awk -F' *[|] *' '{split($3, u, " "); sub("/.*", "", u[2]); print $1, $2, u[2]}'
}

# Fills kernel_pkg/kernel_ver/kernel_rel/kernel_suite[entry] with the newest
# matching image of each entry's suites; an entry the mirror does not serve gets none.
declare -A kernel_pkg kernel_ver kernel_rel kernel_suite
resolve_matrix() {
  local rows entry best
  rows=$(kernel_candidates)
  for entry in "${entry_order[@]}"; do
    best=$(awk -v pat="${entry_pattern[$entry]}" -v suites=" ${entry_suites[$entry]} " \
      '$1 ~ pat && index(suites, " " $3 " ") {print}' <<<"$rows" | sort -k2,2V | tail -n 1)
    if [[ -z $best ]]; then
      say "note: no cloud kernel for $entry in ${entry_suites[$entry]} on this mirror; it is left out"
      continue
    fi
    read -r "kernel_pkg[$entry]" "kernel_ver[$entry]" "kernel_suite[$entry]" <<<"$best"
    kernel_rel[$entry]=${kernel_pkg[$entry]#linux-image-}
  done
}

# The entries --kernels asked for (by name, or by kernel version prefix).
selected=()
select_kernels() {
  local entry want w
  for entry in "${entry_order[@]}"; do
    [[ -n ${kernel_pkg[$entry]:-} ]] || continue
    if [[ -z $kernels_arg ]]; then selected+=("$entry"); continue; fi
    IFS=, read -ra want <<<"$kernels_arg"
    for w in "${want[@]}"; do
      if [[ $w == "$entry" || ${kernel_rel[$entry]} == "$w" || ${kernel_rel[$entry]} == "$w".* ||
            ${kernel_rel[$entry]} == "$w"[-+]* ]]; then
        selected+=("$entry")
        break
      fi
    done
  done
  ((${#selected[@]})) || die "--kernels '$kernels_arg' matches none of: $(for e in "${entry_order[@]}"; do
    [[ -n ${kernel_pkg[$e]:-} ]] && printf '%s (%s) ' "$e" "${kernel_rel[$e]}"; done)"
}

# --- the build under test ---------------------------------------------------------

build_if_asked() {
  ((do_build)) || return 0
  if [[ $build_dir == "$repo/build" ]]; then
    "$repo/scripts/build.sh" >/dev/null
  else
    "$repo/scripts/install-deps.sh"
    cmake -S "$repo" -B "$build_dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
    cmake --build "$build_dir" -j"$(nproc)" >/dev/null
  fi
}

# integration_tests runs the cgscope binary by the absolute path it was built
# with, so the guest must hold the build under that same path.
guest_build_dir=
check_build() {
  local need=("$build_dir/cgscope")
  ((smoke_only)) || need+=("$build_dir/integration_tests")
  local f
  for f in "${need[@]}"; do
    [[ -x $f ]] || die "$f is missing: build first (scripts/build.sh, or pass --build), or point --build-dir at a build"
  done
  guest_build_dir=$build_dir
  if ((!smoke_only)); then
    local compiled
    compiled=$(tr '\0' '\n' <"$build_dir/integration_tests" | LC_ALL=C grep -m1 -E '^/[^ ]*/cgscope$' || true)
    [[ -n $compiled ]] && guest_build_dir=${compiled%/cgscope}
  fi
}

# The top-level executables of the build: the binary, the tests and their helpers.
build_executables() { find "$build_dir" -maxdepth 1 -type f -executable | sort; }

# Files of the source or build tree that the binaries name by absolute path
# (integration_tests runs scripts/without-mounts.sh, for one): the guest gets
# them at the same place.
compiled_in_files() {
  local src bin
  src=$(sed -n 's/^CMAKE_HOME_DIRECTORY:INTERNAL=//p' "$build_dir/CMakeCache.txt" 2>/dev/null || true)
  for bin in "$build_dir/cgscope" "$build_dir/integration_tests"; do
    if [[ -f $bin ]]; then tr '\0' '\n' <"$bin" | LC_ALL=C grep -aE '^/[A-Za-z0-9_./+-]+$' || true; fi
  done | sort -u | while read -r f; do
    if [[ -f $f && ( ( -n $src && $f == "$src"/* ) || $f == "$build_dir"/* ) ]]; then echo "$f"; fi
  done
}

# The Debian packages that hold the shared libraries of the build.
runtime_packages() {
  local lib p alt
  while read -r lib; do
    p=$(dpkg-query -S "$lib" 2>/dev/null | head -n 1 || true)
    if [[ -z $p ]]; then  # merged /usr: dpkg may know the file under the other name
      if [[ $lib == /usr/* ]]; then alt=${lib#/usr}; else alt=/usr$lib; fi
      p=$(dpkg-query -S "$alt" 2>/dev/null | head -n 1 || true)
    fi
    [[ -n $p ]] || die "$lib (needed by the build) belongs to no Debian package: the guest holds Debian packages only"
    echo "${p%%:*}"
  done < <(build_executables | xargs ldd 2>/dev/null | awk '$2 == "=>" && $3 ~ /^\// {print $3}' | sort -u) | sort -u
}

# --- the cached guest pieces ------------------------------------------------------

# debootstrap --variant=minbase RELEASE [with the packages INCLUDE] into DIR/root;
# DIR appears only once complete.
debootstrap_root() {
  local release=$1 dir=$2 include=$3 log=$cache/debootstrap-$1.log
  remove_tree "$dir.tmp"
  rm -rf "$dir"
  mkdir -p "$dir.tmp"
  if ! debootstrap --variant=minbase ${include:+--include="$include"} "$release" "$dir.tmp/root" "$mirror" \
      >"$log" 2>&1; then
    tail -n 20 "$log" >&2
    remove_tree "$dir.tmp"
    die "debootstrap of $release failed; the whole log is in $log"
  fi
  [[ -z $include ]] || echo "$include" >"$dir.tmp/packages"
  touch "$dir.tmp/.done"
  mv "$dir.tmp" "$dir"
}

# The guest's base root: bookworm minbase plus the build's libraries and the test
# tools, keyed by exactly that (release, mirror, package list).
base=
ensure_base() {
  local libs pkgs key
  libs=$(runtime_packages) || exit 2
  pkgs=$(printf '%s\n' "$libs" "${guest_tools[@]}" | sort -u | paste -sd, -)
  key=$(echo "v1 $suite minbase $mirror $pkgs" | sha256sum | cut -c1-12)
  base=$cache/base-$key
  [[ -f $base/.done ]] && return 0
  say "making the $suite base root (once per package set; about a minute): $pkgs"
  debootstrap_root "$suite" "$base" "$pkgs"
  # Older bases (other package sets) are of no further use.
  find "$cache" -maxdepth 1 -name 'base-*' ! -name "base-$key" -exec rm -rf {} +
}

# The root a kernel of RELEASE is installed in: the guest's base for bookworm, a
# bare minbase of that release otherwise (a trixie kernel's maintainer scripts
# need trixie's tools). Sets stage_base.
stage_base=
ensure_stage_base() {
  local release=$1 dir
  if [[ $release == "$suite" ]]; then stage_base=$base/root; return; fi
  dir=$cache/stagebase-$release-$(echo "v1 $release minbase $mirror" | sha256sum | cut -c1-12)
  if [[ ! -f $dir/.done ]]; then
    say "making a $release root to install $release kernels in (once; about a minute)"
    debootstrap_root "$release" "$dir" ""
  fi
  stage_base=$dir/root
}

# Removes a directory tree, unmounting first whatever an interrupted run left
# mounted inside it; never crosses into another file system.
remove_tree() {
  local d=$1 m
  [[ -e $d ]] || return 0
  while read -r m; do umount "$m" 2>/dev/null || umount -l "$m"; done < <(
    awk -v d="$d" '$2 == d || index($2, d "/") == 1 {print $2}' /proc/mounts | sort -r)
  rm -rf --one-file-system "$d"
}

# The apt sources of a staging root of RELEASE: the release, its updates, security
# updates and backports.
stage_sources() {
  local key=/usr/share/keyrings/debian-archive-keyring.gpg
  echo "deb [signed-by=$key] $mirror $1 main"
  echo "deb [signed-by=$key] $mirror $1-updates main"
  echo "deb [signed-by=$key] $security_mirror $1-security main"
  echo "deb [signed-by=$key] $mirror $1-backports main"
}

# A kernel's vmlinuz, initrd and modules, installed with apt into a throwaway copy
# of a root of its release (so its initramfs comes from Debian's initramfs-tools)
# and kept under a key of entry, kernel release and package version. Sets kdir.
kdir=
stage_dir=
ensure_kernel() {
  local entry=$1 pkg=${kernel_pkg[$1]} ver=${kernel_ver[$1]} rel=${kernel_rel[$1]} pin=()
  kdir=$cache/kernel.$entry.${rel}_${ver//[^A-Za-z0-9.+-]/_}
  [[ -f $kdir/.done ]] && return 0
  local release=${entry_release[$entry]}
  ensure_stage_base "$release"
  say "installing $pkg $ver in a staging root (once per kernel)"
  stage_dir=$cache/kstage.tmp
  remove_tree "$stage_dir"
  rm -rf "$kdir" "$kdir.tmp"
  cp -a "$stage_base" "$stage_dir"
  stage_sources "$release" >"$stage_dir/etc/apt/sources.list"
  if [[ -e /etc/resolv.conf ]]; then rm -f "$stage_dir/etc/resolv.conf"; cp -L /etc/resolv.conf "$stage_dir/etc/resolv.conf"; fi
  # Take no swap of the build host into the initramfs (it would wait for it on boot).
  mkdir -p "$stage_dir/etc/initramfs-tools/conf.d"
  echo RESUME=none >"$stage_dir/etc/initramfs-tools/conf.d/resume"
  mount -t proc proc "$stage_dir/proc"
  local ilog=$cache/kernel-install.log
  # Backports have a low apt priority: ask for that suite by name. (Not for the
  # others: pinning bookworm-security alone mixes versions of one source package.)
  [[ ${kernel_suite[$entry]} == *-backports ]] && pin=(-t "${kernel_suite[$entry]}")
  if ! { chroot "$stage_dir" apt-get update -qq &&
         chroot "$stage_dir" env DEBIAN_FRONTEND=noninteractive apt-get install -y \
           --no-install-recommends "${pin[@]}" initramfs-tools "$pkg=$ver"; } >"$ilog" 2>&1; then
    tail -n 20 "$ilog" >&2
    die "installing $pkg $ver failed; the whole log is in $ilog"
  fi
  [[ -f $stage_dir/boot/initrd.img-$rel ]] || chroot "$stage_dir" update-initramfs -c -k "$rel" >>"$ilog" 2>&1
  umount "$stage_dir/proc"
  [[ -f $stage_dir/boot/vmlinuz-$rel && -f $stage_dir/boot/initrd.img-$rel && -d $stage_dir/lib/modules/$rel ]] ||
    die "$pkg left no /boot/vmlinuz-$rel, /boot/initrd.img-$rel and /lib/modules/$rel; see $ilog"
  mkdir -p "$kdir.tmp"
  cp "$stage_dir/boot/vmlinuz-$rel" "$kdir.tmp/vmlinuz"
  cp "$stage_dir/boot/initrd.img-$rel" "$kdir.tmp/initrd.img"
  cp -a "$stage_dir/lib/modules/$rel" "$kdir.tmp/modules"
  echo "$pkg $ver" >"$kdir.tmp/package"
  touch "$kdir.tmp/.done"
  mv "$kdir.tmp" "$kdir"
  remove_tree "$stage_dir"
  stage_dir=
  # An older kernel of the same entry is of no further use.
  find "$cache" -maxdepth 1 -name "kernel.$entry.*" ! -name "${kdir##*/}" -exec rm -rf {} +
}

# --- one guest --------------------------------------------------------------------

run_dir=
qemu_pid=

# The guest's root: hard links to the cached base (so nothing is copied; every
# file added here is new, none of the base's is written to), the kernel's modules,
# the build and the guest scripts; then an ext4 image of it.
make_image() {
  local kdir=$1 rel=$2 img=$3 root=$run_dir/root
  rm -rf "$root"
  cp -al "$base/root" "$root"
  mkdir -p "$root/usr/lib/modules"
  cp -al "$kdir/modules" "$root/usr/lib/modules/$rel"
  mkdir -p "$root$guest_build_dir" "$root/opt/cgscope-matrix"
  # --remove-destination: never write through a hard link into the cache.
  build_executables | xargs -I{} cp --remove-destination {} "$root$guest_build_dir/"
  compiled_in_files | xargs -r -I{} cp --remove-destination --parents {} "$root/"
  cp "$matrix_dir/guest-init.sh" "$matrix_dir/smoke.sh" "$matrix_dir/smoke-lb.yaml" "$root/opt/cgscope-matrix/"
  chmod 755 "$root/opt/cgscope-matrix/guest-init.sh"
  local integration_bin=
  ((smoke_only)) || integration_bin=$guest_build_dir/integration_tests
  {
    printf 'CGSCOPE_BIN=%q\n' "$guest_build_dir/cgscope"
    printf 'INTEGRATION_BIN=%q\n' "$integration_bin"
    printf 'INTEGRATION_FILTER=%q\n' "$tests_filter"
    printf 'INTEGRATION_TIMEOUT=%q\n' "$((timeout_secs - 90))"
    printf 'GUEST_CMD=%q\n' "$guest_cmd"
  } >"$root/opt/cgscope-matrix/config"
  # (rm first: these may be hard links into the cache.) No resolver: there is no
  # network; localhost must resolve from /etc/hosts, as on any host.
  rm -f "$root/etc/hostname" "$root/etc/hosts" "$root/etc/resolv.conf"
  echo cgscope-matrix >"$root/etc/hostname"
  printf '127.0.0.1\tlocalhost\n127.0.1.1\tcgscope-matrix\n::1\tlocalhost ip6-localhost ip6-loopback\n' >"$root/etc/hosts"
  local mb
  mb=$(du -sm "$root" | cut -f1)
  mkfs.ext4 -q -F -L cgsm-root -d "$root" "$img" "$((mb + 1024))M" >/dev/null
  rm -rf "$root"
}

# Boots a kernel under qemu with a hard deadline, killing qemu by its pid when it
# overruns or as soon as KVM reports an internal error (a nested KVM that cannot
# run this kernel). Returns qemu's status, 124 on a timeout, 125 on a KVM failure.
#   boot_guest SECS CONSOLE_LOG KERNEL_DIR KERNEL_ARGS [MORE QEMU ARGS...]
# No NIC at all (-nodefaults, -nic none): a guest has lo and nothing else.
boot_guest() {
  local secs=$1 log=$2 kd=$3 append=$4 err=$run_dir/qemu.err deadline rc=0
  shift 4
  qemu-system-x86_64 "${accel[@]}" -machine pc -smp 2 -m 2048 \
    -nodefaults -no-user-config -display none -nic none -no-reboot \
    -kernel "$kd/vmlinuz" -initrd "$kd/initrd.img" -append "console=ttyS0 panic=-1 $append" \
    -serial "file:$log" "$@" >"$err" 2>&1 &
  qemu_pid=$!
  deadline=$((SECONDS + secs))
  while kill -0 "$qemu_pid" 2>/dev/null; do
    if ((SECONDS >= deadline)); then rc=124; break; fi
    if grep -qs 'KVM internal error' "$err"; then rc=125; break; fi
    sleep 1
  done
  if ((rc)); then
    stop_qemu
    return "$rc"
  fi
  wait "$qemu_pid" || rc=$?
  qemu_pid=
  return "$rc"
}

# SIGTERM, then SIGKILL if qemu has not gone within 5 seconds.
stop_qemu() {
  local i
  [[ -n $qemu_pid ]] || return 0
  kill "$qemu_pid" 2>/dev/null || true
  for ((i = 0; i < 10; i++)); do kill -0 "$qemu_pid" 2>/dev/null || break; sleep 0.5; done
  kill -9 "$qemu_pid" 2>/dev/null || true
  wait "$qemu_pid" 2>/dev/null || true
  qemu_pid=
}

# KVM only if it really runs our kernels: a nested /dev/kvm may open and run a
# BIOS, yet fail on (or crawl through) a Linux boot. The probe boots the kernel in
# $kdir with no root, so it panics at once: under working KVM in a second or two.
# The verdict is kept per host kernel and qemu version.
# shellcheck disable=SC2054  # the commas are qemu's
tcg=(-accel tcg,thread=multi -cpu max)
accel=("${tcg[@]}")
accel_name=tcg
detect_accel() {
  local key verdict probe_log=$run_dir/kvm-probe.log
  if [[ ! -r /dev/kvm || ! -w /dev/kvm ]]; then
    say "accelerator: tcg (no usable /dev/kvm)"
    return
  fi
  key=$(echo "$(uname -srv) $(qemu-system-x86_64 --version | head -n 1)" | sha256sum | cut -c1-12)
  if [[ -f $cache/accel-$key ]]; then
    verdict=$(cat "$cache/accel-$key")
  else
    accel=(-accel kvm -cpu host)
    verdict=tcg
    if boot_guest 30 "$probe_log" "$kdir" "rdinit=/nonexistent" && grep -q 'Kernel panic' "$probe_log"; then
      verdict=kvm
    fi
    find "$cache" -maxdepth 1 -name 'accel-*' -delete
    echo "$verdict" >"$cache/accel-$key"
  fi
  if [[ $verdict == kvm ]]; then
    accel=(-accel kvm -cpu host)
    accel_name=kvm
    say "accelerator: kvm"
  else
    accel=("${tcg[@]}")
    say "accelerator: tcg (/dev/kvm could not boot a kernel in 30s here, as under nested virtualisation)"
  fi
}

# Boots one guest and prints its one result line; sets kernel_ok.
kernel_ok=0
run_kernel() {
  local entry=$1 rel=${kernel_rel[$1]} img log t0 rc
  ensure_kernel "$entry"
  img=$run_dir/root-$entry.ext4
  log=$cache/logs/$(date +%Y%m%d-%H%M%S)-$rel.log
  t0=$SECONDS
  while :; do
    make_image "$kdir" "$rel" "$img"
    rc=0
    boot_guest "$timeout_secs" "$log" "$kdir" \
      "root=/dev/vda rw rootfstype=ext4 noresume quiet init=/opt/cgscope-matrix/guest-init.sh" \
      -drive "file=$img,format=raw,if=virtio,cache=unsafe" || rc=$?
    rm -f "$img"
    [[ -s $run_dir/qemu.err ]] && { echo "--- qemu stderr"; cat "$run_dir/qemu.err"; } >>"$log"
    ((rc == 125)) || break
    say "KVM failed under $rel (see $log); booting it again with TCG, and the rest too"
    accel=("${tcg[@]}")
    accel_name=tcg
    t0=$SECONDS
  done
  report_kernel "$rel" "$log" "$rc" $((SECONDS - t0))
}

# One line from the guest's "cgscope-matrix:" lines; kernel_ok=1 if all passed.
report_kernel() {
  local rel=$1 log=$2 rc=$3 secs=$4 lines smoke integ ok=1 line
  lines=$(tr -d '\r' <"$log" | sed -n 's/^cgscope-matrix: //p')
  if [[ -n $guest_cmd ]]; then
    report_guest_cmd "$rel" "$log" "$rc" "$secs" "$lines"
    return
  fi
  smoke=$(sed -n 's/^smoke result: //p' <<<"$lines" | tail -n 1)
  if [[ $smoke =~ ^([0-9]+)/([0-9]+)\ ok(\;\ failed:\ (.*))?$ ]]; then
    line="kernel $rel: smoke ${BASH_REMATCH[1]}/${BASH_REMATCH[2]} ok"
    [[ -z ${BASH_REMATCH[4]} ]] || line+=" (failed: ${BASH_REMATCH[4]})"
    [[ ${BASH_REMATCH[1]} == "${BASH_REMATCH[2]}" ]] || ok=0
  else
    line="kernel $rel: smoke not run"
    ok=0
  fi
  if ((!smoke_only)); then
    integ=$(sed -n 's/^integration result: //p' <<<"$lines" | tail -n 1)
    if [[ $integ =~ passed=([0-9]+)\ failed=([0-9]+)\ skipped=([0-9]+)\ rc=([0-9]+)\ how=(.*)\ secs= ]]; then
      line+=", integration ${BASH_REMATCH[1]} passed ${BASH_REMATCH[2]} failed"
      ((BASH_REMATCH[3] == 0)) || line+=" ${BASH_REMATCH[3]} skipped"
      [[ ${BASH_REMATCH[5]} == finished ]] || line+=" (${BASH_REMATCH[5]})"
      [[ ${BASH_REMATCH[2]} == 0 && ${BASH_REMATCH[4]} == 0 ]] || ok=0
    elif grep -q '^integration start' <<<"$lines"; then
      line+=", integration gave no result"
      ok=0
    else
      line+=", integration not run"
      ok=0
    fi
  fi
  if ! grep -q '^done after' <<<"$lines"; then
    ok=0
    if ((rc == 124)); then line+=", guest killed after ${timeout_secs}s"
    else line+=", guest stopped early (qemu status $rc)"; fi
  fi
  line+=" ($((secs / 60))m$((secs % 60))s, $accel_name)"
  ((ok)) || line+=" FAILED"
  echo "$line; log $log"
  # The log may not outlive the run (a CI clone, a chroot): name what failed here.
  sed -n 's/^integration failed test: /  failed: /p; s/^integration last test started: /  last started: /p' \
    <<<"$lines"
  kernel_ok=$ok
}

# The result line of a --guest-cmd run.
report_guest_cmd() {
  local rel=$1 log=$2 rc=$3 secs=$4 lines=$5 status
  status=$(sed -n 's/^guest-cmd result: rc=//p' <<<"$lines" | tail -n 1)
  kernel_ok=0
  if [[ -n $status ]]; then
    [[ $status == 0 ]] && kernel_ok=1
    echo "kernel $rel: guest command exited $status ($((secs / 60))m$((secs % 60))s, $accel_name); log $log"
  elif ((rc == 124)); then
    echo "kernel $rel: guest killed after ${timeout_secs}s FAILED; log $log"
  else
    echo "kernel $rel: guest stopped early (qemu status $rc) FAILED; log $log"
  fi
}

cleanup() {
  set +e
  stop_qemu
  [[ -n $stage_dir ]] && remove_tree "$stage_dir"
  [[ -n $run_dir ]] && rm -rf "$run_dir"
}

main() {
  parse_args "$@"
  [[ $(id -u) -eq 0 ]] || die "run as root (it boots guests and makes their root file systems)"
  mkdir -p "$cache/logs"
  # One run at a time: the cache is shared.
  exec 9>"$cache/lock"
  flock -n 9 || die "another kernel-matrix run holds $cache/lock; wait for it to finish"
  trap cleanup EXIT
  trap 'exit 130' INT TERM
  install_host_packages
  mirror=$(find_mirror)
  security_mirror=$(find_security_mirror)
  setup_private_apt
  resolve_matrix
  select_kernels
  if ((list_only)); then
    for e in "${selected[@]}"; do echo "$e: ${kernel_pkg[$e]} ${kernel_ver[$e]} (${kernel_suite[$e]})"; done
    exit 0
  fi
  build_if_asked
  check_build
  run_dir=$(mktemp -d "$cache/run.XXXX")
  ensure_base
  ensure_kernel "${selected[0]}"
  detect_accel
  local e passed=0 failed=0
  for e in "${selected[@]}"; do
    run_kernel "$e"
    if ((kernel_ok)); then passed=$((passed + 1)); else failed=$((failed + 1)); fi
  done
  echo "kernel-matrix: $passed passed, $failed failed"
  ((failed == 0)) || exit 1
}

main "$@"
