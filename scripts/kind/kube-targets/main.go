// Command kube-targets is the kind cluster's Prometheus service discovery: a sidecar that
// answers Prometheus' http_sd_configs with the pods to scrape, read from the Kubernetes API
// with its service account. The kind Prometheus is Debian's (the lab's: the same version
// and query semantics), which is built without kubernetes_sd_configs; this gives it what
// Kubernetes service discovery plus the usual relabelling would, as the lab's real node
// agent does for its pods (fixtures/node.py, pod_targets):
//
//	GET /targets/annotated  every Pending or Running pod annotated prometheus.io/scrape
//	                        "true", at podIP:prometheus.io/port (else its first container
//	                        port), path prometheus.io/path, labels namespace, pod, node and
//	                        each pod label (every character but [A-Za-z0-9_] made "_")
//	GET /targets/selected?namespace=N&selector=S&port=P
//	                        the Running pods of N matching label selector S, at their
//	                        container port named P, without labels (for jobs that honour
//	                        the scraped labels: kube-state-metrics)
//
// Listens on $LISTEN (default 127.0.0.1:9091: only Prometheus, in the same pod, asks).
package main

import (
	"encoding/json"
	"fmt"
	"log"
	"net"
	"net/http"
	"net/url"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"sre-platform.dev/kind/incluster"
)

// version is stamped by fixtures/kind (-ldflags -X main.version=...).
var version = "dev"

type pod struct {
	Metadata struct {
		Name        string            `json:"name"`
		Namespace   string            `json:"namespace"`
		Labels      map[string]string `json:"labels"`
		Annotations map[string]string `json:"annotations"`
	} `json:"metadata"`
	Spec struct {
		NodeName   string `json:"nodeName"`
		Containers []struct {
			Ports []struct {
				Name          string `json:"name"`
				ContainerPort int    `json:"containerPort"`
			} `json:"ports"`
		} `json:"containers"`
	} `json:"spec"`
	Status struct {
		Phase string `json:"phase"`
		PodIP string `json:"podIP"`
	} `json:"status"`
}

type targetGroup struct {
	Targets []string          `json:"targets"`
	Labels  map[string]string `json:"labels"`
}

type lister interface {
	pods(namespace, selector string) ([]pod, error)
}

func main() {
	log.SetFlags(log.LstdFlags | log.LUTC)
	listen := os.Getenv("LISTEN")
	if listen == "" {
		listen = "127.0.0.1:9091"
	}
	api, err := newAPIClient()
	if err != nil {
		log.Fatalf("kube-targets: %v", err)
	}
	log.Printf("kube-targets %s on %s, API %s", version, listen, api.Base)
	server := &http.Server{Addr: listen, Handler: handler(api), ReadHeaderTimeout: 5 * time.Second}
	log.Fatal(server.ListenAndServe())
}

func handler(api lister) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/targets/annotated", func(w http.ResponseWriter, r *http.Request) {
		pods, err := api.pods("", "")
		respond(w, func() []targetGroup { return annotatedTargets(pods) }, err)
	})
	mux.HandleFunc("/targets/selected", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		if q.Get("namespace") == "" || q.Get("selector") == "" || q.Get("port") == "" {
			http.Error(w, "namespace, selector and port are required", http.StatusBadRequest)
			return
		}
		pods, err := api.pods(q.Get("namespace"), q.Get("selector"))
		respond(w, func() []targetGroup { return selectedTargets(pods, q.Get("port")) }, err)
	})
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "ok") })
	return mux
}

func respond(w http.ResponseWriter, groups func() []targetGroup, err error) {
	if err != nil {
		// Prometheus keeps the last good targets when discovery fails.
		log.Printf("kube-targets: %v", err)
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(groups())
}

func annotatedTargets(pods []pod) []targetGroup {
	groups := []targetGroup{}
	for _, p := range pods {
		annotations := p.Metadata.Annotations
		if annotations["prometheus.io/scrape"] != "true" || p.Status.PodIP == "" {
			continue
		}
		if p.Status.Phase != "Pending" && p.Status.Phase != "Running" {
			continue
		}
		port := annotations["prometheus.io/port"]
		if port == "" {
			for _, c := range p.Spec.Containers {
				for _, cp := range c.Ports {
					if port == "" {
						port = strconv.Itoa(cp.ContainerPort)
					}
				}
			}
		}
		if port == "" {
			continue
		}
		labels := map[string]string{}
		for key, value := range p.Metadata.Labels {
			labels[labelName(key)] = value
		}
		path := annotations["prometheus.io/path"]
		if path == "" {
			path = "/metrics"
		}
		labels["namespace"] = p.Metadata.Namespace
		labels["pod"] = p.Metadata.Name
		labels["node"] = p.Spec.NodeName
		labels["__metrics_path__"] = path
		groups = append(groups, targetGroup{[]string{net.JoinHostPort(p.Status.PodIP, port)}, labels})
	}
	sort.Slice(groups, func(i, j int) bool {
		a, b := groups[i].Labels, groups[j].Labels
		return a["namespace"]+"/"+a["pod"] < b["namespace"]+"/"+b["pod"]
	})
	return groups
}

func selectedTargets(pods []pod, portName string) []targetGroup {
	var targets []string
	for _, p := range pods {
		if p.Status.Phase != "Running" || p.Status.PodIP == "" {
			continue
		}
		for _, c := range p.Spec.Containers {
			for _, cp := range c.Ports {
				if cp.Name == portName {
					targets = append(targets, net.JoinHostPort(p.Status.PodIP, strconv.Itoa(cp.ContainerPort)))
				}
			}
		}
	}
	sort.Strings(targets)
	if len(targets) == 0 {
		return []targetGroup{}
	}
	return []targetGroup{{Targets: targets, Labels: map[string]string{}}}
}

// labelName: a pod label's key as Prometheus' kubernetes_sd labelmap would name it.
func labelName(key string) string {
	return strings.Map(func(r rune) rune {
		if r == '_' || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') || (r >= '0' && r <= '9') {
			return r
		}
		return '_'
	}, key)
}

// ---- the API ------------------------------------------------------------------------

// apiClient lists pods through the pod's service account.
type apiClient struct{ *incluster.Client }

func newAPIClient() (*apiClient, error) {
	host, port := os.Getenv("KUBERNETES_SERVICE_HOST"), os.Getenv("KUBERNETES_SERVICE_PORT")
	if host == "" || port == "" {
		return nil, fmt.Errorf("not in a pod: $KUBERNETES_SERVICE_HOST/PORT are not set")
	}
	client, err := incluster.New(net.JoinHostPort(host, port))
	if err != nil {
		return nil, err
	}
	return &apiClient{client}, nil
}

func (c *apiClient) pods(namespace, selector string) ([]pod, error) {
	path := "/api/v1/pods"
	if namespace != "" {
		path = "/api/v1/namespaces/" + url.PathEscape(namespace) + "/pods"
	}
	if selector != "" {
		path += "?labelSelector=" + url.QueryEscape(selector)
	}
	body, err := c.Get(path)
	if err != nil {
		return nil, err
	}
	var list struct {
		Items []pod `json:"items"`
	}
	if err := json.Unmarshal(body, &list); err != nil {
		return nil, fmt.Errorf("the pod list: %w", err)
	}
	return list.Items, nil
}
