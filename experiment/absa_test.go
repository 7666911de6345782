package experiment

import (
	"testing"

	"hesscope/train"
)

// TestABSAUnit checks the training configuration of a sweep's ABSA unit:
// the adaptive schedule from the unit's batch size up to the sweep's
// largest, with Train.ABSA's settings, which the other units do not get.
func TestABSAUnit(t *testing.T) {
	s := testSweep()
	s.ABSA = true
	s.Train.Schedule, s.Train.Milestones = "step", []int{1}
	if err := s.Validate(); err != nil {
		t.Fatalf("sweep with ABSA: %v", err)
	}
	var absa []train.Config
	for _, u := range s.Units() {
		c := s.TrainConfig(u, "out")
		if u.Kind != "absa" {
			if c.Schedule != "step" || c.ABSA != nil {
				t.Errorf("%s: schedule %s, ABSA %+v", u.Name, c.Schedule, c.ABSA)
			}
			continue
		}
		absa = append(absa, c)
	}
	if len(absa) != 2 {
		t.Fatalf("%d ABSA units, want one per seed", len(absa))
	}
	c := absa[0]
	if c.Schedule != "absa" || c.BatchSize != 128 || c.ABSA == nil || c.ABSA.MaxBatch != 1024 || c.ABSA.Patience != 10 ||
		c.Perturb != "" || len(c.Milestones) != 1 || c.Validate() != nil {
		t.Errorf("ABSA unit: %+v, ABSA %+v, %v", c, c.ABSA, c.Validate())
	}
	s.Train.ABSA = &train.ABSAConfig{Patience: 3, MaxBatch: 512}
	if err := s.Validate(); err != nil {
		t.Fatalf("sweep with ABSA settings: %v", err)
	}
	for _, u := range s.Units() {
		c := s.TrainConfig(u, "out")
		if u.Kind == "absa" && (c.ABSA.Patience != 3 || c.ABSA.MaxBatch != 512 || c.ABSA == s.Train.ABSA) {
			t.Errorf("%s: ABSA %+v: want Train.ABSA's settings, copied", u.Name, c.ABSA)
		}
	}
}
