// Command client is a plain rancher/remotedialer client, as the Go agent runs it: the side-by-side
// performance anchor for the TypeScript tunnel. Every dial the server asks for is allowed.
package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"flag"
	"log"
	"net/http"
	"os"
	"os/signal"
	"syscall"

	"github.com/gorilla/websocket"
	"github.com/rancher/remotedialer"
)

func main() {
	wsURL := flag.String("url", "", "wss://host:port/apis/proxies.clusternet.io/v1alpha1/sockets/<clusterID>")
	token := flag.String("token", "", "bearer token")
	caFile := flag.String("ca", "", "CA bundle verifying the server (PEM)")
	flag.Parse()

	tlsConfig := &tls.Config{}
	if *caFile != "" {
		pem, err := os.ReadFile(*caFile)
		if err != nil {
			log.Fatal(err)
		}
		pool := x509.NewCertPool()
		pool.AppendCertsFromPEM(pem)
		tlsConfig.RootCAs = pool
	}
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer cancel()
	headers := http.Header{"Authorization": {"Bearer " + *token}}
	dialer := &websocket.Dialer{TLSClientConfig: tlsConfig}
	allow := func(string, string) bool { return true }
	for ctx.Err() == nil {
		_ = remotedialer.ClientConnect(ctx, *wsURL, headers, dialer, allow, nil)
	}
}
