package attack_test

import (
	"context"
	"fmt"

	"hesscope/attack"
	"hesscope/autodiff"
	"hesscope/nn"
	"hesscope/tensor"
)

// linear is a two-class logistic model of 2×2 images: z = W·flatten(x) + b.
type linear struct{ fc *nn.Linear[float64] }

func (l linear) Params() []*nn.Param[float64] { return l.fc.Params() }

func (l linear) Forward(g *nn.Graph[float64], x autodiff.Var) autodiff.Var {
	return l.fc.Forward(g, g.Flatten(x))
}

func Example() {
	fc := nn.NewLinear[float64](nn.NewInit(1), "fc", 4, 2)
	copy(fc.Weight.Value.Data, []float64{1, -1, 0.5, 0, -1, 1, 0, 0.5})
	copy(fc.Bias.Value.Data, []float64{0, 0})
	m := linear{fc}

	// Two images, both of class 0. For a linear model the loss gradient of
	// class 0 has the sign of w₁ − w₀ = (−2, 2, −0.5, 0.5).
	x := tensor.FromSlice([]float64{
		0.6, 0.4, 0.5, 0.5,
		0.9, 0.1, 0.5, 0.5,
	}, 2, 1, 2, 2)
	y := []int{0, 0}

	adv := tensor.New[float64](x.Shape...)
	attack.NewAttacker[float64](m).Perturb(adv, x, y, attack.Config{Method: attack.FGSM, Eps: 0.1}, nil)
	fmt.Printf("FGSM ε=0.1: %.1f\n", adv.Data)

	ctx := context.Background()
	s := attack.Study{Config: attack.Config{Method: attack.PGD, Steps: 20}, Eps: []float64{0.05, 0.1, 0.4}}
	r, err := attack.Robustness[float64](ctx, m, x, y, s, attack.Options{}, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("clean accuracy %.2f\n", r.CleanAccuracy)
	for _, p := range r.Results {
		fmt.Printf("PGD ε=%.2f: robust accuracy %.2f\n", p.Eps, p.Accuracy)
	}
	// Output:
	// FGSM ε=0.1: [0.5 0.5 0.4 0.6 0.8 0.2 0.4 0.6]
	// clean accuracy 1.00
	// PGD ε=0.05: robust accuracy 1.00
	// PGD ε=0.10: robust accuracy 0.50
	// PGD ε=0.40: robust accuracy 0.00
}
