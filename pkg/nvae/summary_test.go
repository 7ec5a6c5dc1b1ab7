package nvae

import (
	"fmt"
	"testing"
)

// TestSeedSummaries checks the structure of the seed configurations against
// the official counts of docs/anchors.md.
func TestSeedSummaries(t *testing.T) {
	want := map[string]Summary{
		"mnist":       {33363134, 255, 214, []int{10, 5}},
		"cifar10":     {130852480, 610, 364, []int{30}},
		"celeba_64":   {153281364, 730, 436, []int{20, 10, 5}},
		"imagenet_32": {268509444, 570, 340, []int{28}},
		"celeba_256":  {330798664, 986, 460, []int{16, 8, 4, 4, 4}},
		"ffhq":        {330798664, 986, 460, []int{16, 8, 4, 4, 4}},
	}
	vars := map[string]string{"DATA_DIR": "/data", "CHECKPOINT_DIR": "/ckpt", "EXPR_ID": "x", "NODE_RANK": "0", "IP_ADDR": "127.0.0.1"}
	for ds, w := range want {
		argv := ExpandSeedCommand(SeedCommands[ds], func(k string) string { return vars[k] })
		cfg, err := ParseArgs(argv)
		if err != nil {
			t.Fatalf("%s: %v", ds, err)
		}
		got, err := Summarize(cfg)
		if err != nil {
			t.Fatalf("%s: %v", ds, err)
		}
		if fmt.Sprint(got) != fmt.Sprint(w) {
			t.Errorf("%s: got %+v, want %+v", ds, got, w)
		}
	}
}
