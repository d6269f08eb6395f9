package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"reflect"
	"testing"
)

const podList = `{"items": [
  {"metadata": {"name": "web-1", "namespace": "shop",
                "labels": {"app.kubernetes.io/name": "web", "rollouts-pod-template-hash": "abc"},
                "annotations": {"prometheus.io/scrape": "true", "prometheus.io/port": "8080"}},
   "spec": {"nodeName": "w1", "containers": [{"ports": [{"name": "http", "containerPort": 8080}]}]},
   "status": {"phase": "Running", "podIP": "10.251.1.5"}},
  {"metadata": {"name": "web-0", "namespace": "shop", "labels": {},
                "annotations": {"prometheus.io/scrape": "true", "prometheus.io/path": "/m"}},
   "spec": {"nodeName": "w2", "containers": [{"ports": [{"name": "http", "containerPort": 9000}]}]},
   "status": {"phase": "Pending", "podIP": "10.251.2.7"}},
  {"metadata": {"name": "done", "namespace": "shop",
                "annotations": {"prometheus.io/scrape": "true", "prometheus.io/port": "1"}},
   "spec": {}, "status": {"phase": "Succeeded", "podIP": "10.251.2.8"}},
  {"metadata": {"name": "quiet", "namespace": "shop"},
   "spec": {"containers": [{"ports": [{"name": "http-metrics", "containerPort": 8080}]}]},
   "status": {"phase": "Running", "podIP": "10.251.3.9"}},
  {"metadata": {"name": "starting", "namespace": "shop",
                "annotations": {"prometheus.io/scrape": "true", "prometheus.io/port": "1"}},
   "spec": {}, "status": {"phase": "Pending"}}
]}`

type fakeAPI struct{ items []pod }

func (f fakeAPI) pods(string, string) ([]pod, error) { return f.items, nil }

func pods(t *testing.T) []pod {
	t.Helper()
	var list struct{ Items []pod }
	if err := json.Unmarshal([]byte(podList), &list); err != nil {
		t.Fatal(err)
	}
	return list.Items
}

func TestAnnotatedTargetsAsKubernetesSDWouldFindThem(t *testing.T) {
	got := annotatedTargets(pods(t))
	want := []targetGroup{
		{[]string{"10.251.2.7:9000"}, map[string]string{
			"namespace": "shop", "pod": "web-0", "node": "w2", "__metrics_path__": "/m"}},
		{[]string{"10.251.1.5:8080"}, map[string]string{
			"namespace": "shop", "pod": "web-1", "node": "w1", "__metrics_path__": "/metrics",
			"app_kubernetes_io_name": "web", "rollouts_pod_template_hash": "abc"}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("annotatedTargets =\n%+v\nwant\n%+v", got, want)
	}
}

func TestSelectedTargetsByPortName(t *testing.T) {
	got := selectedTargets(pods(t), "http-metrics")
	want := []targetGroup{{[]string{"10.251.3.9:8080"}, map[string]string{}}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("selectedTargets = %+v", got)
	}
	if got := selectedTargets(pods(t), "nope"); len(got) != 0 {
		t.Errorf("no pod has that port, yet: %+v", got)
	}
}

func TestHandlerAnswersHTTPSDAndRefusesAnIncompleteSelection(t *testing.T) {
	server := httptest.NewServer(handler(fakeAPI{pods(t)}))
	defer server.Close()
	response, err := http.Get(server.URL + "/targets/annotated")
	if err != nil {
		t.Fatal(err)
	}
	var groups []targetGroup
	if err := json.NewDecoder(response.Body).Decode(&groups); err != nil || len(groups) != 2 {
		t.Errorf("annotated: %v %+v", err, groups)
	}
	response, err = http.Get(server.URL + "/targets/selected?namespace=shop")
	if err != nil {
		t.Fatal(err)
	}
	if response.StatusCode != http.StatusBadRequest {
		t.Errorf("incomplete selection answered %d", response.StatusCode)
	}
}
