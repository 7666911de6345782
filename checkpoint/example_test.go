package checkpoint_test

import (
	"bytes"
	"fmt"
	"log"

	"hesscope/checkpoint"
	"hesscope/tensor"
)

// A model's state dict goes to safetensors bytes (a file, with WriteFile)
// and back into another model of the same shape.
func Example_roundTrip() {
	weight := tensor.FromSlice([]float64{1, 2, 3, 4, 5, 6}, 2, 3)
	bias := tensor.FromSlice([]float64{0.5, -0.5}, 2)
	state := []checkpoint.Named[float64]{{Name: "fc.weight", Value: weight}, {Name: "fc.bias", Value: bias}}

	// Store float32, as PyTorch models usually are.
	f := checkpoint.FromStateDictAs(checkpoint.F32, state, map[string]string{"format": "pt"})
	var buf bytes.Buffer
	if err := checkpoint.Write(&buf, f); err != nil {
		log.Fatal(err)
	}

	g, err := checkpoint.Read(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	if err != nil {
		log.Fatal(err)
	}
	for _, name := range g.Names() {
		t := g.Tensors[name]
		fmt.Println(name, t.DType, tensor.ShapeString(t.Shape))
	}
	fmt.Println("metadata:", g.Metadata)

	w2, b2 := tensor.New[float32](2, 3), tensor.New[float32](2)
	if err := checkpoint.LoadInto(g, []checkpoint.Named[float32]{{Name: "fc.weight", Value: w2}, {Name: "fc.bias", Value: b2}}); err != nil {
		log.Fatal(err)
	}
	fmt.Println(w2.Data, b2.Data)

	// A model with another layout is refused, naming the tensors.
	err = checkpoint.LoadInto(g, []checkpoint.Named[float32]{{Name: "fc.weight", Value: tensor.New[float32](3, 2)}})
	fmt.Println(err)
	// Output:
	// fc.bias F32 [2]
	// fc.weight F32 [2, 3]
	// metadata: map[format:pt]
	// [1 2 3 4 5 6] [0.5 -0.5]
	// checkpoint: cannot load state dict: unexpected tensors "fc.bias"; tensor "fc.weight": shape [2, 3] in file, [3, 2] expected
}
