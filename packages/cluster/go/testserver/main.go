// testserver, the cluster tests' workload (standard library only, static, runs FROM scratch):
//
//	testserver serve [addr]   answer every request with "hello from <hostname>" (default :8080);
//	                          /healthz answers "ok"; prints one line when listening
//	testserver get <url> [s]  GET the URL (3 s timeout per try), print the status and body, and exit
//	                          0 on a 2xx answer, 1 otherwise (connection refused, timeout, status);
//	                          with [s], try again every 300 ms for up to s seconds before failing
package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"
)

func serve(addr string) int {
	host, _ := os.Hostname()
	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, "ok\n")
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		_, _ = fmt.Fprintf(w, "hello from %s\n", host)
	})
	listener, err := net.Listen("tcp", addr)
	if err != nil {
		fmt.Fprintf(os.Stderr, "listen %s: %v\n", addr, err)
		return 1
	}
	server := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = server.Shutdown(shutdown)
	}()
	fmt.Printf("testserver %s listening on %s\n", host, listener.Addr())
	if err := server.Serve(listener); err != nil && err != http.ErrServerClosed {
		fmt.Fprintf(os.Stderr, "serve: %v\n", err)
		return 1
	}
	return 0
}

func get(url string) int {
	client := &http.Client{Timeout: 3 * time.Second}
	response, err := client.Get(url)
	if err != nil {
		fmt.Printf("GET %s failed: %v\n", url, err)
		return 1
	}
	defer response.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(response.Body, 64<<10))
	fmt.Printf("GET %s: %d %s", url, response.StatusCode, body)
	if response.StatusCode < 200 || response.StatusCode > 299 {
		return 1
	}
	return 0
}

func main() {
	args := os.Args[1:]
	switch {
	case len(args) == 0 || args[0] == "serve":
		addr := ":8080"
		if len(args) > 1 {
			addr = args[1]
		}
		os.Exit(serve(addr))
	case args[0] == "get" && len(args) == 2:
		os.Exit(get(args[1]))
	case args[0] == "get" && len(args) == 3:
		seconds, err := strconv.Atoi(args[2])
		if err != nil || seconds < 0 {
			fmt.Fprintln(os.Stderr, "get: the retry time must be a whole number of seconds")
			os.Exit(2)
		}
		deadline := time.Now().Add(time.Duration(seconds) * time.Second)
		for get(args[1]) != 0 {
			if time.Now().After(deadline) {
				os.Exit(1)
			}
			time.Sleep(300 * time.Millisecond)
		}
		os.Exit(0)
	default:
		fmt.Fprintln(os.Stderr, "usage: testserver [serve [addr]] | get <url> [retry-seconds]")
		os.Exit(2)
	}
}
