package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"sort"
	"strings"
	"time"
)

// config is everything the command line can set.
type config struct {
	listen    string
	plainHTTP bool
	certDir   string

	datacenters     int
	clusters        int
	hosts           int
	standaloneHosts int
	pools           int
	vms             int
	datastores      int

	username string
	password string

	users       stringList // --user NAME:PASSWORD (users.go)
	roles       stringList // --role NAME:PRIVILEGES (setup_access.go)
	permissions stringList // --permission USER:ROLE:PATH[:propagate]
	gpus        stringList // --gpu HOSTS:VENDOR:DEVICE:NAME[:OPTION]... (gpu_spec.go)
	gpusPerHost int

	latency             time.Duration
	methodLatency       durationMap
	sessionIdleTimeout  time.Duration
	expireSessionsAfter time.Duration

	frozenVMs     stringList
	frozenPerHost string

	taskDuration          durationMap
	hostProvisioningLimit int
	timing                string

	guestIPDelay             time.Duration
	freezeDelay              time.Duration
	guestIPv6First           bool
	guestIPNeedsNICConnected bool

	faults stringList
	seed   int64

	apiVersion string
	verbose    bool
}

// passwordEnv fills --password when the flag is not given, so that the
// password need not appear in the process list.
const passwordEnv = "VSRAY_SIM_PASSWORD"

func parseFlags(args []string, stderr io.Writer) (*config, error) {
	cfg := &config{methodLatency: durationMap{}, taskDuration: durationMap{}}

	fs := flag.NewFlagSet("vsray-sim", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: vsray-sim [flags]\n\nA simulated vCenter for vsray (govmomi's simulator plus instant clones, frozen VMs,\nguest IPs, slow tasks, fault injection and /api). Prints one JSON line on stdout when ready.\n\nFlags (one or two dashes):")
		fs.PrintDefaults()
	}

	fs.StringVar(&cfg.listen, "listen", "127.0.0.1:0", "loopback `address:port` to serve on (port 0 picks a free port)")
	fs.BoolVar(&cfg.plainHTTP, "http", false, "serve plain HTTP instead of HTTPS")
	fs.StringVar(&cfg.certDir, "cert-dir", "", "`directory` for ca.pem, cert.pem and key.pem (default: a temporary directory removed on exit)")

	fs.IntVar(&cfg.datacenters, "datacenters", 1, "number of datacenters")
	fs.IntVar(&cfg.clusters, "clusters", 1, "clusters per datacenter")
	fs.IntVar(&cfg.hosts, "hosts", 3, "ESXi hosts per cluster")
	fs.IntVar(&cfg.standaloneHosts, "standalone-hosts", 0, "standalone ESXi hosts per datacenter")
	fs.IntVar(&cfg.pools, "pools", 0, "child resource pools per cluster (besides each cluster's root pool)")
	fs.IntVar(&cfg.vms, "vms", 2, "VMs in total, spread evenly over the clusters and standalone hosts (rounded up to a multiple of their number)")
	fs.IntVar(&cfg.datastores, "datastores", 1, "datastores per datacenter, each mounted on every host")

	fs.StringVar(&cfg.username, "username", "user", "the administrator's user name, never restricted (SOAP and REST)")
	fs.StringVar(&cfg.password, "password", "", "the administrator's password (default \"pass\", or $"+passwordEnv+")")

	fs.Var(&cfg.users, "user", "`NAME:PASSWORD` another user, whose rights come from permissions (repeatable)")
	fs.Var(&cfg.roles, "role", "`NAME:PRIV,PRIV...` create a role holding these privileges (repeatable)")
	fs.Var(&cfg.permissions, "permission", "`USER:ROLE:PATH[:propagate]` give USER the role on the inventory object at PATH (repeatable)")
	fs.Var(&cfg.gpus, "gpu", "`HOSTS:VENDOR:DEVICE:NAME[:OPTION]...` give hosts GPUs, see README (repeatable)")
	fs.IntVar(&cfg.gpusPerHost, "gpus-per-host", 0, "give every host N passthrough GPUs (NVIDIA A100 PCIe 40GB)")

	fs.DurationVar(&cfg.latency, "latency", 0, "added latency of every SOAP and REST call")
	fs.Var(cfg.methodLatency, "method-latency", "`METHOD=DUR` extra latency of a SOAP method or REST route prefix (repeatable)")
	fs.DurationVar(&cfg.sessionIdleTimeout, "session-idle-timeout", 0, "end sessions idle this long (0: never)")
	fs.DurationVar(&cfg.expireSessionsAfter, "expire-sessions-after", 0, "end every session once, this long after start (0: never)")

	fs.Var(&cfg.frozenVMs, "frozen-vm", "`NAME[@HOST]` create a frozen VM (on HOST, default the first host by name) (repeatable)")
	fs.StringVar(&cfg.frozenPerHost, "frozen-per-host", "", "create one frozen VM per host, named `PREFIX`-<host name>")

	fs.DurationVar(&cfg.freezeDelay, "freeze-delay", 0, "delay between a frozen-VM image (extraConfig vsray.frozen_image = TRUE) powering on and it freezing")

	fs.Var(cfg.taskDuration, "task-duration", "`METHOD=DUR` tasks of this SOAP method stay running this long before they end (repeatable)")
	fs.IntVar(&cfg.hostProvisioningLimit, "host-provisioning-limit", defaultHostProvisioningLimit, "concurrent provisioning tasks (clones, migrations) per host; more wait queued (0: no limit)")
	fs.StringVar(&cfg.timing, "timing", "none", "`PRESET` of latency and task durations: "+timingPresetNames()+" (flags given explicitly win)")

	fs.DurationVar(&cfg.guestIPDelay, "guest-ip-delay", 0, "delay between power-on (or NIC change) and the guest reporting its addresses")
	fs.BoolVar(&cfg.guestIPv6First, "guest-ipv6-first", false, "report an fd00:: address and link-local addresses before each NIC's IPv4 address")
	fs.BoolVar(&cfg.guestIPNeedsNICConnected, "guest-ip-needs-nic-connected", false, "report addresses only for NICs whose connectable.connected is true")

	fs.Var(&cfg.faults, "fault", "`METHOD:WHEN:KIND` inject a fault, see README (repeatable)")
	fs.Int64Var(&cfg.seed, "seed", 1, "seed for placement and fractional faults")

	fs.StringVar(&cfg.apiVersion, "api-version", "6.7", "API version reported in the service content (pyvmomi 6.7 needs 6.7)")

	fs.BoolVar(&cfg.verbose, "verbose", false, "also log what govmomi's simulator logs (a line per object change while clients wait for updates)")

	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() != 0 {
		return nil, fmt.Errorf("unexpected arguments: %q", fs.Args())
	}
	if cfg.password == "" {
		cfg.password = os.Getenv(passwordEnv)
	}
	if cfg.password == "" {
		cfg.password = "pass"
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if err := applyTimingPreset(cfg, set); err != nil {
		return nil, err
	}
	return cfg, cfg.validate()
}

func (c *config) validate() error {
	if err := checkLoopback(c.listen); err != nil {
		return err
	}
	counts := []struct {
		name string
		n    int
	}{
		{"datacenters", c.datacenters}, {"clusters", c.clusters}, {"hosts", c.hosts},
		{"standalone-hosts", c.standaloneHosts}, {"pools", c.pools}, {"vms", c.vms},
		{"datastores", c.datastores},
	}
	for _, n := range counts {
		if n.n < 0 {
			return fmt.Errorf("--%s must not be negative", n.name)
		}
	}
	if c.datacenters < 1 {
		return errors.New("--datacenters must be at least 1")
	}
	if c.datastores < 1 {
		return errors.New("--datastores must be at least 1")
	}
	if c.clusters > 0 && c.hosts < 1 {
		return errors.New("--hosts must be at least 1 when there are clusters")
	}
	if c.clusters+c.standaloneHosts == 0 && (c.vms > 0 || len(c.frozenVMs) > 0) {
		return errors.New("VMs need a cluster or a standalone host")
	}
	if c.username == "" {
		return errors.New("--username must not be empty")
	}
	if c.hostProvisioningLimit < 0 {
		return errors.New("--host-provisioning-limit must not be negative")
	}
	for _, d := range []time.Duration{c.latency, c.sessionIdleTimeout, c.expireSessionsAfter, c.guestIPDelay, c.freezeDelay} {
		if d < 0 {
			return errors.New("durations must not be negative")
		}
	}
	for _, spec := range c.faults {
		if _, err := parseFaultSpec(spec); err != nil {
			return err
		}
	}
	for _, spec := range c.frozenVMs {
		if name, _ := splitFrozenSpec(spec); name == "" {
			return fmt.Errorf("--frozen-vm %q: empty name", spec)
		}
	}
	return c.validateAccessFlags()
}

// checkLoopback refuses any listen address that is not on the loopback
// interface: the simulator must never be reachable from another machine.
func checkLoopback(addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("--listen %q: %v", addr, err)
	}
	if _, err := net.LookupPort("tcp", port); err != nil {
		return fmt.Errorf("--listen %q: bad port", addr)
	}
	if host == "localhost" {
		return nil
	}
	ip := net.ParseIP(host)
	if ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("--listen %q: only loopback addresses (127.0.0.0/8, ::1, localhost) are allowed", addr)
	}
	return nil
}

// splitFrozenSpec splits NAME[@HOST].
func splitFrozenSpec(spec string) (name, host string) {
	if i := strings.LastIndex(spec, "@"); i >= 0 {
		return spec[:i], spec[i+1:]
	}
	return spec, ""
}

// stringList is a repeatable string flag.
type stringList []string

func (l *stringList) String() string { return strings.Join(*l, ",") }

func (l *stringList) Set(v string) error {
	*l = append(*l, v)
	return nil
}

// durationMap is a repeatable KEY=DURATION flag. The key may itself contain
// '=' (REST routes with a query), the duration never does.
type durationMap map[string]time.Duration

func (m durationMap) String() string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + m[k].String()
	}
	return strings.Join(parts, ",")
}

func (m durationMap) Set(v string) error {
	i := strings.LastIndex(v, "=")
	if i <= 0 {
		return fmt.Errorf("%q: want KEY=DURATION", v)
	}
	d, err := time.ParseDuration(v[i+1:])
	if err != nil {
		return err
	}
	if d < 0 {
		return fmt.Errorf("%q: negative duration", v)
	}
	m[v[:i]] = d
	return nil
}
