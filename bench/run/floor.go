package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os/signal"
	"strings"
	"syscall"
	"time"
)

// floorCommand is the hidden first argument with which the tool runs
// itself as the HTTP floor server, in a process of its own as Haven's
// server is.
const floorCommand = "floor-server"

// floorACK is the HL7 acknowledgement the floor gives every VXU.
const floorACK = "MSH|^~\\&|FLOOR|FLOOR|BENCH|BENCH-EHR|20210930||ACK^V04^ACK|1|P|2.5.1|||NE|NE|||||Z23^CDCPHINVS\rMSA|AA|1\r"

// newFloorHandler returns the HTTP floor: the least a server can do for
// each of the load generator's requests, with net/http and encoding/json
// and nothing stored.
//   - POST /api/v1/persons/{card}/vaccinations decodes the dose and answers
//     201 with a small JSON object.
//   - POST /api/v1/hl7 reads the message and answers a fixed ACK (AA).
//   - GET /fhir/r4/Immunization answers a fixed JSON body of fhirBytes
//     bytes, the size of Haven's answer for the same search.
func newFloorHandler(fhirBytes int) http.Handler {
	fhirBody := paddedJSON(fhirBytes)
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/v1/persons/{card}/vaccinations", func(w http.ResponseWriter, r *http.Request) {
		var in struct {
			Product string `json:"product"`
			Date    string `json:"date"`
			Site    string `json:"site"`
			Lot     string `json:"lot"`
		}
		if err := json.NewDecoder(r.Body).Decode(&in); err != nil || in.Product == "" || in.Date == "" || in.Site == "" {
			http.Error(w, `{"error":"bad dose"}`, http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		json.NewEncoder(w).Encode(struct {
			Card    string `json:"card"`
			Product string `json:"product"`
			Date    string `json:"date"`
			Site    string `json:"site"`
			Lot     string `json:"lot"`
			Status  string `json:"status"`
		}{r.PathValue("card"), in.Product, in.Date, in.Site, in.Lot, "completed"})
	})
	mux.HandleFunc("POST /api/v1/hl7", func(w http.ResponseWriter, r *http.Request) {
		msg, err := io.ReadAll(io.LimitReader(r.Body, 16<<20))
		if err != nil || !bytes.HasPrefix(msg, []byte("MSH|")) {
			http.Error(w, "not an HL7 message", http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/hl7-v2")
		for range max(1, bytes.Count(msg, []byte("\rMSH|"))+1) { // one ACK a message
			io.WriteString(w, floorACK)
		}
	})
	mux.HandleFunc("GET /fhir/r4/Immunization", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("patient.identifier") == "" {
			http.Error(w, "no patient.identifier", http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/fhir+json")
		w.Write(fhirBody)
	})
	return mux
}

// paddedJSON returns a FHIR searchset Bundle (without entries) padded to n
// bytes, or to its minimum size if n is smaller.
func paddedJSON(n int) []byte {
	const head, tail = `{"resourceType":"Bundle","type":"searchset","total":0,"pad":"`, `"}`
	return []byte(head + strings.Repeat("x", max(0, n-len(head)-len(tail))) + tail)
}

// serveFloor runs the floor server (see newFloorHandler) on a loopback
// port until SIGINT or SIGTERM. It prints "listening on http://ADDR" to
// stdout once it accepts connections.
func serveFloor(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet(floorCommand, flag.ContinueOnError)
	fhirBytes := fs.Int("fhir-bytes", 2048, "size of the answer to a FHIR search")
	addr := fs.String("addr", "127.0.0.1:0", "listen address")
	if err := fs.Parse(args); err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	hs := &http.Server{Handler: newFloorHandler(*fhirBytes), ReadHeaderTimeout: 10 * time.Second}
	fmt.Fprintf(stdout, "listening on http://%s\n", ln.Addr())
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := hs.Shutdown(sctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
