// Command hesscope trains neural networks and computes their exact Hessian
// spectra, to study large-batch training and adversarial robustness as in
// Yao et al., "Hessian-based Analysis of Large Batch Training and Robustness
// to Adversaries" (NeurIPS 2018).
//
// Usage:
//
//	hesscope <command> [flags]
//
// Run "hesscope help" for the list of commands and "hesscope help <command>"
// for one. Results go to standard output (JSON with -json), progress and
// errors to standard error.
//
// Exit status: 0 on success, 1 when the work failed, 2 for a usage error
// (bad flag or argument), 130 when interrupted.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"strings"
	"syscall"
	"time"

	"hesscope/dist"
)

// version is the program version, recorded in every result and run folder.
var version = "0.1.0-dev"

// command is one subcommand: its flags, help and the work it does.
type command struct {
	name  string
	usage string // arguments after the command name
	short string // one line for the command list
	long  string // the full help text
	// flags declares the command's flags on fs and returns the function
	// that runs it once they are parsed.
	flags func(fs *flag.FlagSet) func(ctx context.Context, env *env) error
	// distributed says that the command splits its work across the ranks
	// of an MPI job; the others refuse to run as more than one process.
	distributed bool
}

// env is what a command writes to, and the ranks it runs on. On a rank
// other than 0 stdout and stderr discard what is written: rank 0 alone
// prints (errors are printed by every rank).
type env struct {
	stdout, stderr io.Writer
	comm           dist.Comm
}

// usageError is a bad flag or argument: exit status 2 and the command's usage.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return usageError{fmt.Sprintf(format, args...)} }

var commands []*command

func main() {
	world, err := dist.World()
	if err != nil {
		fmt.Fprintf(os.Stderr, "hesscope: %v\n", err)
		dist.Finalize()
		os.Exit(1)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	grace := 2 * time.Second
	if len(os.Args) > 1 && (os.Args[1] == "train" || os.Args[1] == "sweep" || os.Args[1] == "demo") {
		grace = 30 * time.Second // they save a checkpoint when interrupted
	}
	go watchdog(ctx, stop, grace, os.Stderr, os.Exit)
	code := runIn(ctx, world, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if code != 0 && world.Size() > 1 {
		// The other ranks may be waiting in a collective: end the job.
		fmt.Fprintf(os.Stderr, "hesscope: rank %d of %d failed (exit status %d); aborting the job\n", world.Rank(), world.Size(), code)
		world.Abort(code)
	}
	dist.Finalize()
	os.Exit(code)
}

// watchdog makes an interrupt final. Once ctx is done (Ctrl-C, SIGTERM) it
// restores the default signal handling, so that a second Ctrl-C kills at
// once, and if the command has not returned after grace — some step that
// cannot see the context, such as one huge allocation — it exits with
// status 130 itself. Writes are atomic, so what exists on disk stays whole.
func watchdog(ctx context.Context, stop func(), grace time.Duration, stderr io.Writer, exit func(int)) {
	<-ctx.Done()
	stop()
	time.Sleep(grace)
	fmt.Fprintf(stderr, "hesscope: interrupted; still busy after %v, exiting\n", grace)
	exit(130)
}

// run executes the command line args as one process and returns the exit
// status.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return runIn(ctx, dist.Self{}, args, stdout, stderr)
}

// runIn executes the command line args on the ranks of world and returns
// the exit status.
func runIn(ctx context.Context, world dist.Comm, args []string, stdout, stderr io.Writer) int {
	errOut := stderr
	if world.Rank() != 0 {
		stdout, stderr = io.Discard, io.Discard
	}
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" || args[0] == "-help" {
		if len(args) > 1 {
			if c := lookup(args[1]); c != nil {
				printHelp(stdout, c)
				return 0
			}
			fmt.Fprintf(stderr, "hesscope: unknown command %q\n", args[1])
			return 2
		}
		printCommands(stdout)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	if args[0] == "version" || args[0] == "-version" || args[0] == "--version" {
		fmt.Fprintf(stdout, "hesscope %s %s/%s %s\n", version, runtime.GOOS, runtime.GOARCH, runtime.Version())
		return 0
	}
	c := lookup(args[0])
	if c == nil {
		fmt.Fprintf(stderr, "hesscope: unknown command %q (run 'hesscope help')\n", args[0])
		return 2
	}
	if world.Size() > 1 && !c.distributed {
		fmt.Fprintf(stderr, "hesscope %s: started as %d MPI ranks, but %s runs as one process (the distributed commands: %s)\n",
			c.name, world.Size(), c.name, strings.Join(distributedCommands(), ", "))
		return 2
	}
	fs := flag.NewFlagSet(c.name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	threads := fs.Int("threads", runtime.GOMAXPROCS(0), threadsHelp())
	runCmd := c.flags(fs)
	if err := fs.Parse(args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			printHelp(stdout, c)
			return 0
		}
		fmt.Fprintf(stderr, "hesscope %s: %v (run 'hesscope help %s')\n", c.name, err, c.name)
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "hesscope %s: unexpected argument %q (run 'hesscope help %s')\n", c.name, fs.Arg(0), c.name)
		return 2
	}
	if *threads < 1 || *threads > maxThreads() {
		fmt.Fprintf(stderr, "hesscope %s: -threads %d: want 1 to %d (max(256, 4 × %d cores))\n", c.name, *threads, maxThreads(), runtime.NumCPU())
		return 2
	}
	runtime.GOMAXPROCS(*threads)
	err := runCmd(ctx, &env{stdout: stdout, stderr: stderr, comm: world})
	name := c.name
	if err != nil && world.Size() > 1 && world.Rank() != 0 {
		// Every rank reports its own failure, naming itself.
		stderr, name = errOut, fmt.Sprintf("%s (rank %d)", c.name, world.Rank())
	}
	switch {
	case err == nil:
		return 0
	case ctx.Err() != nil:
		fmt.Fprintf(stderr, "hesscope %s: interrupted\n", name)
		return 130
	case errors.As(err, new(usageError)):
		fmt.Fprintf(stderr, "hesscope %s: %v (run 'hesscope help %s')\n", name, err, c.name)
		return 2
	default:
		fmt.Fprintf(stderr, "hesscope %s: %v\n", name, err)
		return 1
	}
}

// distributedCommands names the commands that run on several ranks.
func distributedCommands() []string {
	var names []string
	for _, c := range commands {
		if c.distributed {
			names = append(names, c.name)
		}
	}
	return names
}

func lookup(name string) *command {
	for _, c := range commands {
		if c.name == name {
			return c
		}
	}
	return nil
}

func printCommands(w io.Writer) {
	fmt.Fprintf(w, "hesscope %s: exact Hessian analysis of neural-network training\n\nUsage:\n\n\thesscope <command> [flags]\n\nCommands:\n\n", version)
	for _, c := range commands {
		fmt.Fprintf(w, "\t%-13s %s\n", c.name, c.short)
	}
	fmt.Fprintf(w, "\nRun 'hesscope help <command>' for a command's flags.\n")
}

// maxThreads bounds -threads: four per core, or 256 on a small machine so
// that a run of a large one (the thread count is part of what makes results
// bit-for-bit reproducible) can be repeated. Go itself stops at 10000
// threads, and every thread has its own workspace.
func maxThreads() int { return max(256, 4*runtime.NumCPU()) }

func threadsHelp() string {
	return fmt.Sprintf("number of threads, 1 to %d (max(256, 4 × cores)); results are reproducible bit for bit at equal thread counts (default: all cores, here)", maxThreads())
}

func printHelp(w io.Writer, c *command) {
	fmt.Fprintf(w, "Usage: hesscope %s %s\n\n%s\n", c.name, c.usage, strings.TrimSpace(c.long))
	fs := flag.NewFlagSet(c.name, flag.ContinueOnError)
	fs.Int("threads", runtime.GOMAXPROCS(0), threadsHelp())
	c.flags(fs)
	fmt.Fprintf(w, "\nFlags (one dash or two):\n")
	fs.SetOutput(w)
	fs.PrintDefaults()
	fmt.Fprintf(w, "\nExit status: 0 success, 1 failure, 2 usage error, 130 interrupted.\n")
}
