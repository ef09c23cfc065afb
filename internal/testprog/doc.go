// Package testprog holds the programs the integration tests run as
// processes inside test hosts (internal/testhosts), where a ztedge service
// or a Ziti client must run in its host's network namespace as a whole
// process: a test binary runs itself with an environment variable naming
// the program, and its TestMain hands over to [Main]. The package also
// reads back what the programs log.
package testprog

// Main runs the program named mode with args and returns its exit status;
// ok is false when no program has that name. The programs print their
// results on standard output, one line each:
//
//	service [-load PEER] [-interval D] [-timeout D] CONFIG
//	    a ztedge service in zerotrust mode (zerotrust.New, Serve). It prints
//	    "instance ID" (random per process) and "serving on API health
//	    HEALTH"; GET /whoami answers "NAME here; you are CALLER; instance
//	    ID". Each line "ID PEER" on standard input calls PEER's /whoami and
//	    prints "call ID PEER: OUTCOME"; the line "load PEER", or -load,
//	    calls PEER every -interval (default 200ms) and prints each call as
//	    a load line (see [ReadLoad]). OUTCOME is "STATUS BODY" or "error
//	    WHY". -timeout is the service's RequestTimeout (default 15s).
//	client IDENTITY +SVC... -SVC...
//	    a tunneler-like client with an enrolled identity file: GET /whoami
//	    of each +SVC, retrying for 90 s until it answers, printing "reach
//	    SVC: OUTCOME"; of each -SVC three tries that must all fail,
//	    printing "reach SVC: refused (OUTCOME)" or "reach SVC: reached
//	    (OUTCOME)"; then "client done".
//	scan IP
//	    connects to every TCP port of IP, prints "open PORT" for each that
//	    accepts, then "scan of IP done: 65535 ports in DURATION" (see
//	    [OpenPorts]).
func Main(mode string, args []string) (code int, ok bool) {
	switch mode {
	case "service":
		return serviceProgram(args), true
	case "client":
		return clientProgram(args), true
	case "scan":
		return scanProgram(args), true
	}
	return 0, false
}
