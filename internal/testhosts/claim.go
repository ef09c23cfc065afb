//go:build linux

package testhosts

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// lockDir holds one lock file per run number. It is on tmpfs, so it goes
// away on reboot together with the namespaces.
const lockDir = "/run/ztedge-testhosts"

// netnsDir is where "ip netns add" keeps named namespaces.
const netnsDir = "/run/netns"

// claim picks a free run number at random and locks it for this network.
// The lock (flock on lockDir/<id>.lock) is what tells a live run from the
// leftovers of a crashed one: the kernel drops it when its holder dies,
// however it dies. Before returning, claim removes the leftovers of every
// run whose lock is free, its own included.
func claim() (run, func(), error) {
	if err := os.MkdirAll(lockDir, 0o755); err != nil {
		return 0, nil, fmt.Errorf("create %s: %w", lockDir, err)
	}
	start := rand.IntN(runs)
	for k := range runs {
		r := run((start + k) % runs)
		unlock, ok, err := tryLock(r)
		if err != nil {
			return 0, nil, err
		}
		if !ok {
			continue
		}
		// A crashed run may have had this number: its leftovers go too.
		if err := remove(r); err != nil {
			unlock()
			return 0, nil, fmt.Errorf("remove the leftovers of an earlier run: %w", err)
		}
		if err := sweep(); err != nil {
			unlock()
			return 0, nil, err
		}
		return r, unlock, nil
	}
	return 0, nil, fmt.Errorf("all %d test networks of this machine are in use", runs)
}

// tryLock takes run r's lock without waiting; ok is false if a live
// network holds it.
func tryLock(r run) (unlock func(), ok bool, err error) {
	path := filepath.Join(lockDir, r.id()+".lock")
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, false, fmt.Errorf("open lock %s: %w", path, err)
	}
	for {
		err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if !errors.Is(err, syscall.EINTR) {
			break
		}
	}
	if errors.Is(err, syscall.EWOULDBLOCK) {
		f.Close()
		return nil, false, nil
	}
	if err != nil {
		f.Close()
		return nil, false, fmt.Errorf("lock %s: %w", path, err)
	}
	// The file is kept: removing it could let two runs lock different
	// files of the same name.
	return func() { f.Close() }, true, nil
}

// sweep removes what crashed runs left behind: namespaces and links
// named with Prefix whose run lock is free (held runs, this one's
// included, are skipped).
func sweep() error {
	names, err := leftovers("")
	if err != nil {
		return err
	}
	stale := map[run]bool{}
	for _, n := range names {
		r, _ := runOf(n)
		if _, done := stale[r]; done {
			continue
		}
		unlock, ok, err := tryLock(r)
		if err != nil {
			return err
		}
		stale[r] = ok
		if ok {
			err := remove(r)
			unlock()
			if err != nil {
				return fmt.Errorf("remove the leftovers of an earlier run: %w", err)
			}
		}
	}
	return nil
}

// leftovers lists the namespaces and root-namespace links of this
// package whose names start with prefix (all of them if prefix is empty).
func leftovers(prefix string) ([]string, error) {
	if prefix == "" {
		prefix = Prefix
	}
	var out []string
	ents, err := os.ReadDir(netnsDir)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("list network namespaces: %w", err)
	}
	for _, e := range ents {
		if _, ok := runOf(e.Name()); ok && strings.HasPrefix(e.Name(), prefix) {
			out = append(out, e.Name())
		}
	}
	ifs, err := net.Interfaces()
	if err != nil {
		return nil, fmt.Errorf("list links: %w", err)
	}
	for _, i := range ifs {
		if _, ok := runOf(i.Name); ok && strings.HasPrefix(i.Name, prefix) {
			out = append(out, i.Name)
		}
	}
	return out, nil
}

// remove deletes everything of run r: it kills every process left in its
// namespaces, deletes its veths and bridge, then the namespaces. Deleting
// a veth end also deletes its peer, even if something (a socket of this
// process, say) still holds the namespace.
func remove(r run) error {
	var errs []error
	ents, err := os.ReadDir(netnsDir)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		errs = append(errs, err)
	}
	var spaces []string
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), r.prefix()+"-") {
			spaces = append(spaces, e.Name())
		}
	}
	for _, ns := range spaces {
		if err := killAllIn(ns); err != nil {
			errs = append(errs, err)
		}
	}
	ifs, err := net.Interfaces()
	if err != nil {
		errs = append(errs, err)
	}
	for _, i := range ifs {
		// Veths first: deleting the bridge first would work too, but
		// leave them detached for a moment.
		if strings.HasPrefix(i.Name, r.prefix()+"-") {
			errs = append(errs, ipIgnoreMissing("link", "del", i.Name))
		}
	}
	for _, i := range ifs {
		if i.Name == r.bridge() {
			errs = append(errs, ipIgnoreMissing("link", "del", i.Name))
		}
	}
	for _, ns := range spaces {
		errs = append(errs, ipIgnoreMissing("netns", "del", ns))
	}
	return errors.Join(errs...)
}

// killAllIn sends SIGKILL to every process in namespace ns and waits, up
// to a few seconds, until none is left in it.
func killAllIn(ns string) error {
	deadline := time.Now().Add(5 * time.Second)
	for {
		out, err := ipOutput("netns", "pids", ns)
		if err != nil {
			if _, statErr := os.Stat(filepath.Join(netnsDir, ns)); errors.Is(statErr, os.ErrNotExist) {
				return nil
			}
			return err
		}
		// This process shows up if its main thread is in ns, which
		// Host.Dial tries to avoid; it is never killed.
		pids := slices.DeleteFunc(strings.Fields(out), func(p string) bool { return p == strconv.Itoa(os.Getpid()) })
		if len(pids) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("processes %s in namespace %s survive SIGKILL", strings.Join(pids, ", "), ns)
		}
		for _, p := range pids {
			if pid, err := strconv.Atoi(p); err == nil && pid > 1 {
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
}
