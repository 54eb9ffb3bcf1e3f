// A LongNet block for module-mode tests: multi-head dilated attention with a
// key padding mask, then the residual add.
func.func @block(%x: tensor<2x32x16xf32>, %w: tensor<16x16xf32>,
                 %pad: tensor<2x32xi1>) -> tensor<2x32x16xf32> {
  %0 = dilattn.multihead_dilated_attention %x, %x, %x
      weights(%w, %w, %w, %w) key_padding_mask(%pad) num_heads = 2
      segment_lengths = [8, 32] dilation_rates = [1, 2]
      : (tensor<2x32x16xf32>, tensor<2x32x16xf32>, tensor<2x32x16xf32>,
         tensor<16x16xf32>, tensor<16x16xf32>, tensor<16x16xf32>,
         tensor<16x16xf32>, tensor<2x32xi1>) -> tensor<2x32x16xf32>
  %1 = arith.addf %0, %x : tensor<2x32x16xf32>
  return %1 : tensor<2x32x16xf32>
}

// A single dilated attention, to compare module mode with op mode.
func.func @attend(%q: tensor<1x40x2x8xf32>) -> tensor<1x40x2x8xf32> {
  %0 = dilattn.dilated_attention %q, %q, %q segment_lengths = [8, 40]
      dilation_rates = [1, 4] mode = longnet causal
      : (tensor<1x40x2x8xf32>, tensor<1x40x2x8xf32>, tensor<1x40x2x8xf32>)
      -> tensor<1x40x2x8xf32>
  return %0 : tensor<1x40x2x8xf32>
}
