package stack

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"syscall"
)

// portFree reports whether a TCP listener can bind 127.0.0.1:port (which
// also fails if something listens on the wildcard address on that port).
func portFree(port int) (bool, error) {
	l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err == nil {
		l.Close()
		return true, nil
	}
	if errors.Is(err, syscall.EADDRINUSE) {
		return false, nil
	}
	return false, fmt.Errorf("check port %d: %w", port, err)
}

// PortInUseError reports that a port the stack needs is taken.
type PortInUseError struct {
	// Port is the port number.
	Port int
	// Name says what the port is for ("vault", "vault cluster", "ziti controller", "ziti router").
	Name string
}

// Error returns "port N (name) is already in use by another process".
func (e *PortInUseError) Error() string {
	return fmt.Sprintf("port %d (%s) is already in use by another process", e.Port, e.Name)
}

// checkPortsFree returns a *PortInUseError naming the first configured port that is
// already in use.
func checkPortsFree(ports []namedPort) error {
	for _, p := range ports {
		free, err := portFree(p.Port)
		if err != nil {
			return err
		}
		if !free {
			return &PortInUseError{Port: p.Port, Name: p.Name}
		}
	}
	return nil
}
