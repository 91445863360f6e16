// Command server is the parent side of the tunnel for tests and benchmarks: a rancher/remotedialer
// Server on Clusternet's socket path (the client key is the cluster ID from the URL path, the bearer
// token is checked against -token, as kube-apiserver would before the hub sees the request), plus
// HTTP endpoints that reach targets *through* an agent's tunnel:
//
//	/apis/proxies.clusternet.io/v1alpha1/sockets/<clusterID>        websocket (the agent connects here)
//	/proxy/<clusterID>/<scheme>/<host:port>/<rest>                  reverse proxy through the tunnel
//	/sessions/<clusterID>                                           200 when a session exists, else 404
//	/bench/<clusterID>?url=&n=&c=&method=&bytes=                    load generated here, through the tunnel
//
// and, on -origin-listen, a plain HTTP origin for tunnel tests (reached by the agent's dials):
//
//	/bytes?n=N  N bytes   /sha256  hex SHA-256 of the request body   /echo  echoes it   /small  a few bytes
//
// /echo is full duplex; remotedialer (v0.3.0 and v0.6.2) can stall on large full-duplex streams with
// any client, because one `paused` flag per connection serves both directions of its Pause/Resume.
package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/rancher/remotedialer"
)

const socketPrefix = "/apis/proxies.clusternet.io/v1alpha1/sockets/"

func main() {
	listen := flag.String("listen", "127.0.0.1:0", "address of the tunnel and proxy endpoint")
	certFile := flag.String("cert", "", "TLS serving certificate (PEM); plain HTTP when empty")
	keyFile := flag.String("key", "", "TLS serving key (PEM)")
	token := flag.String("token", "", "bearer token the agent must present")
	upstreamCert := flag.String("upstream-cert", "", "client certificate presented to proxied HTTPS targets")
	upstreamKey := flag.String("upstream-key", "", "client key presented to proxied HTTPS targets")
	originListen := flag.String("origin-listen", "", "address of a plain HTTP origin for tunnel tests")
	addrFile := flag.String("addr-file", "", "written with JSON {listen, origin} once listening")
	requestHeaderCA := flag.String("requestheader-ca", "", "as the hub behind the parent's aggregator: accept tunnels proxied by a client certificate of this CA (with X-Remote-User) instead of the bearer token")
	flag.Parse()

	server := remotedialer.New(func(req *http.Request) (string, bool, error) {
		key := strings.TrimPrefix(strings.TrimSuffix(req.URL.Path, "/"), socketPrefix)
		if key == "" || strings.Contains(key, "/") {
			return "", false, nil
		}
		return key, true, nil
	}, remotedialer.DefaultErrorWriter)

	var upstreamCerts []tls.Certificate
	if *upstreamCert != "" {
		c, err := tls.LoadX509KeyPair(*upstreamCert, *upstreamKey)
		if err != nil {
			log.Fatalf("upstream client certificate: %v", err)
		}
		upstreamCerts = []tls.Certificate{c}
	}
	var mu sync.Mutex
	transports := map[string]*http.Transport{}
	transportFor := func(key string) *http.Transport {
		mu.Lock()
		defer mu.Unlock()
		if t, ok := transports[key]; ok {
			return t
		}
		dial := server.Dialer(key)
		t := &http.Transport{
			DialContext: func(ctx context.Context, network, address string) (net.Conn, error) {
				return dial(ctx, network, address)
			},
			// As the hub: TLS end to end with the child, not verified.
			TLSClientConfig:     &tls.Config{InsecureSkipVerify: true, Certificates: upstreamCerts},
			MaxIdleConnsPerHost: 256,
			IdleConnTimeout:     30 * time.Second,
		}
		transports[key] = t
		return t
	}

	mux := http.NewServeMux()
	// Discovery, as the hub serves it: the parent's aggregator checks it before routing to us.
	mux.HandleFunc("/apis/proxies.clusternet.io/v1alpha1", func(rw http.ResponseWriter, _ *http.Request) {
		rw.Header().Set("Content-Type", "application/json")
		fmt.Fprint(rw, `{"kind":"APIResourceList","apiVersion":"v1","groupVersion":"proxies.clusternet.io/v1alpha1",`+
			`"resources":[{"name":"sockets","singularName":"socket","namespaced":false,"kind":"Socket","verbs":["get"]}]}`)
	})
	mux.HandleFunc(socketPrefix, func(rw http.ResponseWriter, req *http.Request) {
		if *requestHeaderCA != "" {
			// The parent apiserver authenticated and authorized the agent, then proxied the request
			// with its front-proxy client certificate and the user in X-Remote-User.
			if req.TLS == nil || len(req.TLS.VerifiedChains) == 0 || req.Header.Get("X-Remote-User") == "" {
				http.Error(rw, "Unauthorized", http.StatusUnauthorized)
				return
			}
		} else if req.Header.Get("Authorization") != "Bearer "+*token {
			http.Error(rw, "Unauthorized", http.StatusUnauthorized)
			return
		}
		server.ServeHTTP(rw, req)
	})
	mux.HandleFunc("/sessions/", func(rw http.ResponseWriter, req *http.Request) {
		if server.HasSession(strings.TrimPrefix(req.URL.Path, "/sessions/")) {
			rw.WriteHeader(http.StatusOK)
			return
		}
		rw.WriteHeader(http.StatusNotFound)
	})
	mux.HandleFunc("/proxy/", func(rw http.ResponseWriter, req *http.Request) {
		parts := strings.SplitN(strings.TrimPrefix(req.URL.Path, "/proxy/"), "/", 4)
		if len(parts) < 3 {
			http.Error(rw, "want /proxy/<key>/<scheme>/<host:port>/<path>", http.StatusBadRequest)
			return
		}
		rest := ""
		if len(parts) == 4 {
			rest = parts[3]
		}
		target := &url.URL{Scheme: parts[1], Host: parts[2]}
		proxy := &httputil.ReverseProxy{
			Rewrite: func(r *httputil.ProxyRequest) {
				r.Out.URL.Scheme = target.Scheme
				r.Out.URL.Host = target.Host
				r.Out.URL.Path = "/" + rest
				r.Out.URL.RawPath = ""
				r.Out.Host = target.Host
			},
			Transport:     transportFor(parts[0]),
			FlushInterval: -1,
			ErrorHandler: func(rw http.ResponseWriter, _ *http.Request, err error) {
				http.Error(rw, "tunnel: "+err.Error(), http.StatusBadGateway)
			},
		}
		proxy.ServeHTTP(rw, req)
	})
	mux.HandleFunc("/bench/", func(rw http.ResponseWriter, req *http.Request) {
		key := strings.TrimPrefix(req.URL.Path, "/bench/")
		q := req.URL.Query()
		n, _ := strconv.Atoi(q.Get("n"))
		c, _ := strconv.Atoi(q.Get("c"))
		size, _ := strconv.Atoi(q.Get("bytes"))
		res, err := bench(transportFor(key), q.Get("url"), q.Get("method"), n, c, size)
		if err != nil {
			http.Error(rw, err.Error(), http.StatusBadGateway)
			return
		}
		rw.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(rw).Encode(res)
	})

	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		log.Fatal(err)
	}
	addrs := map[string]string{"listen": ln.Addr().String()}
	if *originListen != "" {
		oln, err := net.Listen("tcp", *originListen)
		if err != nil {
			log.Fatal(err)
		}
		addrs["origin"] = oln.Addr().String()
		go func() { log.Fatal(http.Serve(oln, origin())) }()
	}
	if *addrFile != "" {
		b, _ := json.Marshal(addrs)
		if err := os.WriteFile(*addrFile+".tmp", b, 0o600); err != nil {
			log.Fatal(err)
		}
		if err := os.Rename(*addrFile+".tmp", *addrFile); err != nil {
			log.Fatal(err)
		}
	}
	log.Printf("listening %v", addrs)
	if *certFile != "" {
		srv := &http.Server{Handler: mux}
		if *requestHeaderCA != "" {
			pem, err := os.ReadFile(*requestHeaderCA)
			if err != nil {
				log.Fatal(err)
			}
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pem) {
				log.Fatalf("no certificate in %s", *requestHeaderCA)
			}
			srv.TLSConfig = &tls.Config{ClientAuth: tls.VerifyClientCertIfGiven, ClientCAs: pool}
		}
		log.Fatal(srv.ServeTLS(ln, *certFile, *keyFile))
	}
	log.Fatal(http.Serve(ln, mux))
}

func origin() http.Handler {
	mux := http.NewServeMux()
	chunk := bytes.Repeat([]byte("0123456789abcdef"), 4096)
	mux.HandleFunc("/bytes", func(rw http.ResponseWriter, req *http.Request) {
		n, _ := strconv.Atoi(req.URL.Query().Get("n"))
		rw.Header().Set("Content-Length", strconv.Itoa(n))
		for n > 0 {
			k := min(n, len(chunk))
			if _, err := rw.Write(chunk[:k]); err != nil {
				return
			}
			n -= k
		}
	})
	mux.HandleFunc("/echo", func(rw http.ResponseWriter, req *http.Request) {
		if req.ContentLength >= 0 {
			rw.Header().Set("Content-Length", strconv.FormatInt(req.ContentLength, 10))
		}
		_, _ = io.Copy(rw, req.Body)
	})
	mux.HandleFunc("/sha256", func(rw http.ResponseWriter, req *http.Request) {
		h := sha256.New()
		n, err := io.Copy(h, req.Body)
		if err != nil {
			http.Error(rw, err.Error(), http.StatusBadRequest)
			return
		}
		fmt.Fprintf(rw, "%x %d", h.Sum(nil), n)
	})
	mux.HandleFunc("/small", func(rw http.ResponseWriter, _ *http.Request) {
		_, _ = rw.Write([]byte("ok\n"))
	})
	return mux
}

type benchResult struct {
	Requests int     `json:"requests"`
	Errors   int     `json:"errors"`
	Seconds  float64 `json:"seconds"`
	RPS      float64 `json:"rps"`
	P50Ms    float64 `json:"p50Ms"`
	P99Ms    float64 `json:"p99Ms"`
	Bytes    int64   `json:"bytes"`
	MBps     float64 `json:"mbps"`
}

// bench sends n requests with c workers through the tunnel and measures them.
func bench(t *http.Transport, target, method string, n, c, size int) (*benchResult, error) {
	if n <= 0 || c <= 0 || target == "" {
		return nil, fmt.Errorf("want url, n > 0, c > 0")
	}
	if method == "" {
		method = http.MethodGet
	}
	client := &http.Client{Transport: t, Timeout: 2 * time.Minute}
	body := bytes.Repeat([]byte{'x'}, size)
	lat := make([]time.Duration, n)
	var mu sync.Mutex
	var total int64
	errs := 0
	next := 0
	var wg sync.WaitGroup
	start := time.Now()
	for w := 0; w < c; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				mu.Lock()
				i := next
				next++
				mu.Unlock()
				if i >= n {
					return
				}
				t0 := time.Now()
				req, _ := http.NewRequest(method, target, bytes.NewReader(body))
				resp, err := client.Do(req)
				var got int64
				if err == nil {
					got, err = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if err == nil && resp.StatusCode != http.StatusOK {
						err = fmt.Errorf("status %d", resp.StatusCode)
					}
				}
				lat[i] = time.Since(t0)
				mu.Lock()
				total += got + int64(size)
				if err != nil {
					errs++
					if errs == 1 {
						log.Printf("bench: %v", err)
					}
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	secs := time.Since(start).Seconds()
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	pct := func(p float64) float64 {
		return float64(lat[min(n-1, int(p*float64(n)))].Microseconds()) / 1000
	}
	return &benchResult{
		Requests: n, Errors: errs, Seconds: secs, RPS: float64(n) / secs,
		P50Ms: pct(0.50), P99Ms: pct(0.99), Bytes: total, MBps: float64(total) / secs / 1e6,
	}, nil
}
