// rollouts-evaluate answers "which phase would Argo Rollouts give this measurement?" with
// the controller's own code (utils/evaluate.EvaluateResult at the pinned version), so the
// static tier judges an AnalysisTemplate's conditions with the real expr-lang engine
// instead of a re-implementation.
//
// Protocol: one JSON object per line on stdin, one answer per line on stdout, in order,
// so one process serves a whole static-tier run.
//
//	{"id": 7, "successCondition": "result[0] >= 0.99", "failureCondition": "",
//	 "result": {"vector": ["0.99"]}}
//	-> {"id": 7, "phase": "Successful"}
//
// `result` is what a metric provider hands to EvaluateResult:
//   - {"scalar": "NaN"}          a Prometheus scalar: float64
//   - {"vector": ["0.5", ...]}   a Prometheus vector or matrix: []float64 ([] = no series)
//   - {"value": <any JSON>}      a web provider's jsonPath result, as encoding/json decodes it
//
// Floats travel as strings so that NaN and +Inf/-Inf survive JSON. A line that is not a
// request gets {"id": null, "phase": "", "error": "..."}; the process keeps serving.
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"strconv"

	"github.com/argoproj/argo-rollouts/pkg/apis/rollouts/v1alpha1"
	"github.com/argoproj/argo-rollouts/utils/evaluate"
	"github.com/sirupsen/logrus"
)

type result struct {
	Scalar *string         `json:"scalar"`
	Vector *[]string       `json:"vector"`
	Value  json.RawMessage `json:"value"`
}

type request struct {
	ID               any    `json:"id"`
	SuccessCondition string `json:"successCondition"`
	FailureCondition string `json:"failureCondition"`
	Result           result `json:"result"`
}

type answer struct {
	ID      any    `json:"id"`
	Phase   string `json:"phase"`
	Message string `json:"message,omitempty"`
	Error   string `json:"error,omitempty"`
}

func (r result) decode() (any, error) {
	switch {
	case r.Scalar != nil:
		return strconv.ParseFloat(*r.Scalar, 64)
	case r.Vector != nil:
		values := make([]float64, 0, len(*r.Vector))
		for _, text := range *r.Vector {
			v, err := strconv.ParseFloat(text, 64)
			if err != nil {
				return nil, err
			}
			values = append(values, v)
		}
		return values, nil
	case r.Value != nil:
		var value any
		err := json.Unmarshal(r.Value, &value)
		return value, err
	}
	return nil, fmt.Errorf("result needs one of scalar, vector, value")
}

// phaseOf runs the controller's evaluation; a panic inside it (asInt of a bad string, say)
// is an Error measurement for the controller too, so it is reported as such.
func phaseOf(req request, value any) (phase v1alpha1.AnalysisPhase, message string) {
	defer func() {
		if p := recover(); p != nil {
			phase, message = v1alpha1.AnalysisPhaseError, fmt.Sprint(p)
		}
	}()
	metric := v1alpha1.Metric{SuccessCondition: req.SuccessCondition, FailureCondition: req.FailureCondition}
	logger := logrus.New()
	logger.SetOutput(os.Stderr)
	phase, err := evaluate.EvaluateResult(value, metric, *logrus.NewEntry(logger))
	if err != nil {
		message = err.Error()
	}
	return phase, message
}

func main() {
	in := bufio.NewScanner(os.Stdin)
	in.Buffer(make([]byte, 0, 1<<16), 1<<24)
	out := bufio.NewWriter(os.Stdout)
	encoder := json.NewEncoder(out)
	for in.Scan() {
		var req request
		var reply answer
		if err := json.Unmarshal(in.Bytes(), &req); err != nil {
			reply = answer{Error: "not a request: " + err.Error()}
		} else if value, err := req.Result.decode(); err != nil {
			reply = answer{ID: req.ID, Error: "bad result: " + err.Error()}
		} else {
			phase, message := phaseOf(req, value)
			reply = answer{ID: req.ID, Phase: string(phase), Message: message}
		}
		if err := encoder.Encode(reply); err != nil {
			fmt.Fprintln(os.Stderr, "rollouts-evaluate:", err)
			os.Exit(74)
		}
		// Flush per answer: the caller waits for each line before it sends the next batch.
		if err := out.Flush(); err != nil {
			os.Exit(74)
		}
	}
	if err := in.Err(); err != nil {
		fmt.Fprintln(os.Stderr, "rollouts-evaluate:", err)
		os.Exit(65)
	}
}
