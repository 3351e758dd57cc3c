// Command vsray-sim is the vCenter that vsray's integration tests, benchmarks
// and demo talk to: govmomi's vCenter simulator, plus what vsray needs from a
// vCenter that the simulator lacks (instant clones, frozen VMs, guest IPs,
// tasks that take time, fault injection, session expiry, call counters and
// the /api REST routes). See README.md.
package main

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"math/rand"
	"net"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/vmware/govmomi/simulator"
	_ "github.com/vmware/govmomi/vapi/simulator" // serves /rest
)

func main() {
	os.Exit(run(os.Args[1:]))
}

// logger is vsray-sim's own log, on stderr. The simulator logs through the
// standard logger, which only --verbose lets through: it writes a line per
// object change while a client waits for updates.
var logger = log.New(os.Stderr, "vsray-sim: ", log.LstdFlags)

func run(args []string) int {
	cfg, err := parseFlags(args, os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		logger.Print(err)
		return 2
	}
	log.SetPrefix("vsray-sim: govmomi: ")
	if !cfg.verbose {
		log.SetOutput(io.Discard)
	}

	// Catch the signals before anyone can know our address: a client may
	// stop us as soon as it has read the ready line.
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)

	sim, err := start(cfg)
	if err != nil {
		logger.Printf("cannot start: %v", err)
		if sim != nil {
			sim.close()
		}
		return 1
	}
	defer sim.close()

	line, err := json.Marshal(sim.ready())
	if err != nil {
		logger.Print(err)
		return 1
	}
	if _, err := fmt.Fprintf(os.Stdout, "%s\n", line); err != nil {
		return 1
	}

	sig := <-stop
	logger.Printf("%v: shutting down", sig)
	return 0
}

// simulation is a running vsray-sim.
type simulation struct {
	cfg     *config
	model   *simulator.Model
	server  *simulator.Server
	front   *front
	frozen  *frozenMaker
	users   *userStore
	authz   *authz
	gpus    *gpuManager
	certs   *certificates
	certDir string
	tempDir bool // certDir is ours to remove
	expire  *time.Timer
}

func start(cfg *config) (*simulation, error) {
	s := &simulation{cfg: cfg}
	began := time.Now()

	// The model places VMs on random hosts: make that repeatable.
	rand.Seed(cfg.seed)
	simulator.SessionIdleTimeout = cfg.sessionIdleTimeout

	s.model = newModel(cfg)
	if err := s.model.Create(); err != nil {
		return s, fmt.Errorf("creating the inventory: %v", err)
	}
	connectModelNICs()
	fixDatastoreMounts()
	newGuestAgent(guestOptions{
		delay:             cfg.guestIPDelay,
		ipv6First:         cfg.guestIPv6First,
		needsNICConnected: cfg.guestIPNeedsNICConnected,
	}).attach()
	newFreezer(cfg.freezeDelay).attach()

	ctx := context.Background()
	frozen, err := newFrozenMaker(ctx, s.model.Service)
	if err != nil {
		return s, err
	}
	s.frozen = frozen
	for _, spec := range cfg.frozenVMs {
		name, host := splitFrozenSpec(spec)
		if _, err := frozen.create(ctx, name, host); err != nil {
			return s, err
		}
	}
	if cfg.frozenPerHost != "" {
		for _, host := range hostNames() {
			if _, err := frozen.create(ctx, cfg.frozenPerHost+"-"+host, host); err != nil {
				return s, err
			}
		}
	}

	if err := s.setupAccess(cfg); err != nil {
		return s, err
	}
	if err := s.setupGPUs(cfg); err != nil {
		return s, err
	}

	service := s.model.Service
	service.Listen = &url.URL{Host: cfg.listen, User: url.UserPassword(cfg.username, cfg.password)}
	service.RegisterEndpoints = true
	if !cfg.plainHTTP {
		if err := s.setupTLS(); err != nil {
			return s, err
		}
		service.TLS = &tls.Config{
			Certificates: []tls.Certificate{s.certs.tls},
			MinVersion:   tls.VersionTLS12,
		}
	}

	server, err := newServer(service)
	if err != nil {
		return s, err
	}
	s.server = server

	faults := newFaultSet(cfg.seed)
	for _, text := range cfg.faults {
		spec, _ := parseFaultSpec(text) // validated with the flags
		faults.add(spec)
	}
	s.front = &front{
		inner:         &ovfExtraConfig{next: service.ServeMux},
		creds:         credentials{users: s.users},
		stats:         newCallStats(),
		faults:        faults,
		tasks:         newTaskDurations(cfg.taskDuration),
		sessions:      newRESTSessions(),
		latency:       cfg.latency,
		methodLatency: cfg.methodLatency,
		service:       service,
		holds:         newHoldTable(),
		provisioning:  newProvisioner(cfg.hostProvisioningLimit),
		stopping:      make(chan struct{}),
	}
	s.front.api = &apiGateway{front: s.front}
	s.front.access = s.frontAccess()
	s.front.gpus = s.gpus
	s.front.control = s.controlHandler()
	// The simulator's server is listening already, but its address is only
	// published by the ready line, after this.
	server.Config.Handler = s.front

	if d := cfg.expireSessionsAfter; d > 0 {
		s.expire = time.AfterFunc(d, func() {
			soapN, restN := s.front.expireAll()
			logger.Printf("expired %d SOAP and %d REST sessions", soapN, restN)
		})
	}

	logger.Printf("serving %s (%d VMs) after %v", s.ready().URL, len(simulator.Map.All("VirtualMachine")), time.Since(began).Round(time.Millisecond))
	return s, nil
}

// newServer starts the simulator's HTTP server, turning its panic on a
// listen error into an error.
func newServer(service *simulator.Service) (server *simulator.Server, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("listening on %s: %v", service.Listen.Host, r)
		}
	}()
	return service.NewServer(), nil
}

func (s *simulation) setupTLS() error {
	dir := s.cfg.certDir
	if dir == "" {
		tmp, err := os.MkdirTemp("", "vsray-sim-")
		if err != nil {
			return err
		}
		dir, s.tempDir = tmp, true
	} else if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	s.certDir = dir

	host, _, _ := net.SplitHostPort(s.cfg.listen)
	certs, err := writeCertificates(dir, net.ParseIP(host))
	if err != nil {
		return fmt.Errorf("writing certificates to %s: %v", dir, err)
	}
	s.certs = certs
	return nil
}

// readyLine is the one JSON line printed on stdout once serving.
type readyLine struct {
	URL        string          `json:"url"`
	RESTURL    string          `json:"rest_url"`
	APIURL     string          `json:"api_url"`
	ControlURL string          `json:"control_url"`
	Port       int             `json:"port"`
	CAFile     string          `json:"ca_file"`
	CertDir    string          `json:"cert_dir"`
	Thumbprint string          `json:"thumbprint"`
	PID        int             `json:"pid"`
	Username   string          `json:"username"`
	APIVersion string          `json:"api_version"`
	Inventory  inventoryCounts `json:"inventory"`
}

func (s *simulation) ready() readyLine {
	u := *s.server.URL
	u.User = nil
	base := u.Scheme + "://" + u.Host
	port := 0
	if addr, ok := s.server.Listener.Addr().(*net.TCPAddr); ok {
		port = addr.Port
	}
	line := readyLine{
		URL:        u.String(),
		RESTURL:    base + "/rest",
		APIURL:     base + "/api",
		ControlURL: base + strings.TrimSuffix(controlPrefix, "/"),
		Port:       port,
		PID:        os.Getpid(),
		Username:   s.cfg.username,
		APIVersion: s.cfg.apiVersion,
		Inventory:  countInventory(s.frozen.list()),
	}
	if s.certs != nil {
		line.CAFile = s.certs.caFile
		line.CertDir = s.certDir
		line.Thumbprint = s.certs.thumbprint
	}
	return line
}

// close stops serving and removes the temporary files: the datastore
// directories and, unless given with --cert-dir, the certificates.
func (s *simulation) close() {
	if s.expire != nil {
		s.expire.Stop()
	}
	if s.front != nil {
		close(s.front.stopping) // long polls and held calls end
	}
	if s.server != nil {
		// Long polls (WaitForUpdatesEx) may keep requests open: do not wait
		// for them for long.
		done := make(chan struct{})
		go func() {
			s.server.CloseClientConnections()
			s.server.Close()
			close(done)
		}()
		select {
		case <-done:
		case <-time.After(2 * time.Second):
			logger.Print("requests still running; exiting anyway")
		}
	}
	if s.model != nil {
		s.model.Remove()
	}
	if s.tempDir {
		if err := os.RemoveAll(s.certDir); err != nil {
			logger.Print(err)
		}
	}
}
