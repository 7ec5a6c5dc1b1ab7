package nvae

import (
	"fmt"

	"github.com/nvaego/nvae/pkg/ag"
	"github.com/nvaego/nvae/pkg/backend"
	"github.com/nvaego/nvae/pkg/nn"
	"github.com/nvaego/nvae/pkg/tensor"
)

// Model is the official AutoEncoder, built from a Config with parameters
// named and ordered like the official state dict.
type Model struct {
	Cfg   Config
	Store *nn.Store

	priorFtr0   *ag.Var
	stem        *nn.Conv2D
	pre         []*Cell
	encTower    []any // *Cell or *encCombiner, in official order
	enc0        *nn.Conv2D
	encSampler  []*nn.Conv2D
	decSampler  []*nn.Conv2D
	nf          []*pairedCellAR
	decTower    []any // *Cell or *decCombiner
	stemDecoder *nn.Conv2D
	post        []*Cell
	imageCond   *nn.Conv2D

	groups    []int // encoder order
	z0Size    []int // [L, h, w]
	inputSize int
	vanilla   bool
	// SR holds the spectral regulariser's persistent power-iteration state.
	SR *SpectralState
}

// NewModel builds the model; seed drives the parameter initialisation. With a
// nil backend it only records shapes (see Summary).
func NewModel(cfg Config, b backend.Backend, dt tensor.DType, seed uint64) (*Model, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	arch, err := ArchCells(cfg.ArchInstance)
	if err != nil {
		return nil, err
	}
	size, err := InputSize(cfg.Dataset)
	if err != nil {
		return nil, err
	}
	var s *nn.Store
	if b == nil {
		s = nn.NewMetaStore(dt)
	} else {
		s = nn.NewStore(b, dt, seed)
	}
	m := &Model{Cfg: cfg, Store: s, groups: cfg.GroupsPerScale(), inputSize: size, SR: NewSpectralState()}
	m.vanilla = cfg.NumLatentScales == 1 && cfg.NumGroupsPerScale == 1
	P, S, L := cfg.NumPreprocessBlocks, cfg.NumLatentScales, cfg.NumLatentPerGroup
	cScale := 1 << (P + S - 1)
	sp := size / cScale
	m.z0Size = []int{L, sp, sp}
	var pf []float64
	for _, u := range s.Uniform(cfg.NumChannelsDec*cScale*sp*sp, 1) {
		pf = append(pf, (u+1)/2)
	}
	m.priorFtr0 = s.NewParam("prior_ftr0", []int{cfg.NumChannelsDec * cScale, sp, sp}, pf)
	wn := nn.ConvOpts{Bias: true, WeightNorm: true}
	wn3 := nn.ConvOpts{Bias: true, WeightNorm: true, Padding: 1}
	m.stem = s.NewConv2D("stem", InputChannels(cfg.Dataset), cfg.NumChannelsEnc, 3, wn3)

	// pre-process
	mult := 1
	ce := cfg.NumChannelsEnc
	idx := 0
	for bl := 0; bl < P; bl++ {
		for cc := 0; cc < cfg.NumPreprocessCells; cc++ {
			name := fmt.Sprintf("pre_process.%d", idx)
			if cc == cfg.NumPreprocessCells-1 {
				m.pre = append(m.pre, newCell(s, name, ce*mult, chanMult*ce*mult, "down_pre", arch["down_pre"], cfg.UseSE))
				mult *= chanMult
			} else {
				m.pre = append(m.pre, newCell(s, name, ce*mult, ce*mult, "normal_pre", arch["normal_pre"], cfg.UseSE))
			}
			idx++
		}
	}
	// encoder tower
	if !m.vanilla {
		idx = 0
		for sc := 0; sc < S; sc++ {
			for g := 0; g < m.groups[sc]; g++ {
				for cc := 0; cc < cfg.NumCellPerCondEnc; cc++ {
					m.encTower = append(m.encTower, newCell(s, fmt.Sprintf("enc_tower.%d", idx), ce*mult, ce*mult, "normal_enc", arch["normal_enc"], cfg.UseSE))
					idx++
				}
				if !(sc == S-1 && g == m.groups[sc]-1) {
					name := fmt.Sprintf("enc_tower.%d", idx)
					m.encTower = append(m.encTower, &encCombiner{name, s.NewConv2D(name+".conv", cfg.NumChannelsDec*mult, ce*mult, 1, wn)})
					idx++
				}
			}
			if sc < S-1 {
				m.encTower = append(m.encTower, newCell(s, fmt.Sprintf("enc_tower.%d", idx), ce*mult, chanMult*ce*mult, "down_enc", arch["down_enc"], cfg.UseSE))
				idx++
				mult *= chanMult
			}
		}
	}
	m.enc0 = s.NewConv2D("enc0.1", ce*mult, ce*mult, 1, wn)
	// Samplers and flows. The official code fills the enc_sampler,
	// dec_sampler and nf_cells lists in one loop, but registers them as three
	// ModuleLists: their keys (and conv order) come list by list.
	type groupPlan struct {
		mult  int // channel multiplier (a power of two) of the decoder scale
		first bool
	}
	var plan []groupPlan
	gm := mult
	for sc := 0; sc < S; sc++ {
		for g := 0; g < m.groups[S-sc-1]; g++ {
			plan = append(plan, groupPlan{gm, sc == 0 && g == 0})
		}
		gm /= chanMult
	}
	for i, p := range plan {
		m.encSampler = append(m.encSampler, s.NewConv2D(fmt.Sprintf("enc_sampler.%d", i), ce*p.mult, 2*L, 3, wn3))
	}
	for _, p := range plan {
		if !p.first {
			m.decSampler = append(m.decSampler, s.NewConv2D(fmt.Sprintf("dec_sampler.%d.1", len(m.decSampler)), cfg.NumChannelsDec*p.mult, 2*L, 1, wn))
		}
	}
	for range plan {
		for n := 0; n < cfg.NumNF; n++ {
			name := fmt.Sprintf("nf_cells.%d", len(m.nf))
			m.nf = append(m.nf, &pairedCellAR{newCellAR(s, name+".cell1", L, false), newCellAR(s, name+".cell2", L, true)})
		}
	}
	cd := cfg.NumChannelsDec
	if m.vanilla {
		m.stemDecoder = s.NewConv2D("stem_decoder", L, ce*mult, 1, wn)
	} else {
		idx = 0
		for sc := 0; sc < S; sc++ {
			for g := 0; g < m.groups[S-sc-1]; g++ {
				if !(sc == 0 && g == 0) {
					for cc := 0; cc < cfg.NumCellPerCondDec; cc++ {
						m.decTower = append(m.decTower, newCell(s, fmt.Sprintf("dec_tower.%d", idx), cd*mult, cd*mult, "normal_dec", arch["normal_dec"], cfg.UseSE))
						idx++
					}
				}
				name := fmt.Sprintf("dec_tower.%d", idx)
				m.decTower = append(m.decTower, &decCombiner{name, s.NewConv2D(name+".conv", cd*mult+L, cd*mult, 1, wn)})
				idx++
			}
			if sc < S-1 {
				m.decTower = append(m.decTower, newCell(s, fmt.Sprintf("dec_tower.%d", idx), cd*mult, cd*mult/chanMult, "up_dec", arch["up_dec"], cfg.UseSE))
				idx++
				mult /= chanMult
			}
		}
	}
	idx = 0
	for bl := 0; bl < cfg.NumPostprocessBlocks; bl++ {
		for cc := 0; cc < cfg.NumPostprocessCells; cc++ {
			name := fmt.Sprintf("post_process.%d", idx)
			if cc == 0 {
				m.post = append(m.post, newCell(s, name, cd*mult, cd*mult/chanMult, "up_post", arch["up_post"], cfg.UseSE))
				mult /= chanMult
			} else {
				m.post = append(m.post, newCell(s, name, cd*mult, cd*mult, "normal_post", arch["normal_post"], cfg.UseSE))
			}
			idx++
		}
	}
	m.imageCond = s.NewConv2D("image_conditional.1", cd*mult, NumOutputChannels(cfg.Dataset, cfg.NumMixtureDec), 3, wn3)
	return m, nil
}

// Summary is what nvae-train --dry_run prints.
type Summary struct {
	Params         int   `json:"params"`
	ConvLayers     int   `json:"conv_layers"`
	BNLayers       int   `json:"bn_layers"`
	GroupsPerScale []int `json:"groups_per_scale"`
}

// Summarize counts the model's structure without allocating it.
func Summarize(cfg Config) (Summary, error) {
	m, err := NewModel(cfg, nil, tensor.Float32, 0)
	if err != nil {
		return Summary{}, err
	}
	return Summary{Params: m.Store.NumParams(), ConvLayers: len(m.Store.Convs), BNLayers: len(m.Store.BNs), GroupsPerScale: m.groups}, nil
}
