package caller_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/ztedge/ztedge/caller"
)

// Only device-virtual may post readings; any authenticated caller may read.
func ExampleAllow() {
	mux := http.NewServeMux()
	mux.Handle("POST /api/v3/reading", caller.Allow("device-virtual")(http.HandlerFunc(
		func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprintf(w, "stored, sent by %s", caller.Name(r.Context()))
		})))
	for _, who := range []string{"device-virtual", "app-rules-engine"} {
		req := httptest.NewRequest(http.MethodPost, "/api/v3/reading", nil)
		req = req.WithContext(caller.With(req.Context(), caller.Info{Name: who, Source: caller.Overlay}))
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, req)
		fmt.Println(who, rec.Code)
	}
	// Output:
	// device-virtual 200
	// app-rules-engine 403
}
