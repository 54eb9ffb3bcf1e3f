// RUN: dilattn-opt %s -split-input-file -dilattn-tile-segments -dilattn-fuse-patterns | FileCheck %s --enable-var-scope

// Pattern fusion after segment tiling: in longnet mode every pattern's
// segment_attention accumulates into the first pattern's state, whose views
// write_states reads alone; the other states' scratch buffers and their
// initialisation disappear. Calls with one state, and write_states whose
// states are not the tiler's scratch buffers (arguments, allocas with other
// uses, views of one alloca shared by two states, allocas of different
// types), are left alone.

// Longnet, 3 patterns: one set of state buffers, shared by all patterns.
// CHECK-LABEL: func.func @longnet_three(
// CHECK: %[[MAX:.+]] = memref.alloca() : memref<16xf32>
// CHECK-NEXT: %[[SUM:.+]] = memref.alloca() : memref<16xf32>
// CHECK-NEXT: %[[ACC:.+]] = memref.alloca() : memref<16x16xf32>
// CHECK-NOT: memref.alloca
// CHECK: scf.for
// The shared state is initialised once per item.
// CHECK: linalg.fill ins(%{{.+}} : f32) outs(%[[MAX]] : memref<16xf32>)
// CHECK-NEXT: linalg.fill ins(%{{.+}} : f32) outs(%[[SUM]] : memref<16xf32>)
// CHECK-NEXT: linalg.fill ins(%{{.+}} : f32) outs(%[[ACC]] : memref<16x16xf32>)
// CHECK-NOT: linalg.fill
// Pattern 0 (rate 1).
// CHECK: %[[M0:.+]] = memref.subview %[[MAX]][%{{.+}}] [%{{.+}}] [1]
// CHECK-NEXT: %[[S0:.+]] = memref.subview %[[SUM]][%{{.+}}] [%{{.+}}] [1]
// CHECK-NEXT: %[[A0:.+]] = memref.subview %[[ACC]][%{{.+}}, 0] [%{{.+}}, 16] [1, 1]
// CHECK-NEXT: dilattn.segment_attention {{.*}} state(%[[M0]], %[[S0]], %[[A0]])
// Pattern 1 (rate 2), into the same buffers.
// CHECK: %[[M1:.+]] = memref.subview %[[MAX]][%{{.+}}] [%{{.+}}] [2]
// CHECK-NEXT: %[[S1:.+]] = memref.subview %[[SUM]][%{{.+}}] [%{{.+}}] [2]
// CHECK-NEXT: %[[A1:.+]] = memref.subview %[[ACC]][%{{.+}}, 0] [%{{.+}}, 16] [2, 1]
// CHECK-NEXT: dilattn.segment_attention {{.*}} state(%[[M1]], %[[S1]], %[[A1]])
// Pattern 2 (rate 4), into the same buffers.
// CHECK: %[[M2:.+]] = memref.subview %[[MAX]][%{{.+}}] [%{{.+}}] [4]
// CHECK-NEXT: %[[S2:.+]] = memref.subview %[[SUM]][%{{.+}}] [%{{.+}}] [4]
// CHECK-NEXT: %[[A2:.+]] = memref.subview %[[ACC]][%{{.+}}, 0] [%{{.+}}, 16] [4, 1]
// CHECK-NEXT: dilattn.segment_attention {{.*}} state(%[[M2]], %[[S2]], %[[A2]])
// CHECK-NOT: dilattn.segment_attention
// write_states reads the one state (output scale 1, as before fusion).
// CHECK: %[[WM:.+]] = memref.subview %[[MAX]][0] [%{{.+}}] [1]
// CHECK-NEXT: %[[WS:.+]] = memref.subview %[[SUM]][0] [%{{.+}}] [1]
// CHECK-NEXT: %[[WA:.+]] = memref.subview %[[ACC]][0, 0] [%{{.+}}, 16] [1, 1]
// CHECK: dilattn.write_states states(%[[WM]] : memref<?xf32, strided<[1]>>) sums(%[[WS]] : memref<?xf32, strided<[1]>>) accs(%[[WA]] : memref<?x16xf32, strided<[16, 1]>>) outs(%{{[^:]+}} : memref<?x16xf32, strided<[64, 1], offset: ?>>) output_scale = 1.000000e+00{{$}}
// CHECK-NOT: dilattn.write_states
// CHECK: return
func.func @longnet_three(%q: memref<1x64x4x16xf32>, %o: memref<1x64x4x16xf32>) {
  dilattn.write_dilated_attention ins(%q, %q, %q) outs(%o)
      segment_lengths = [16, 32, 64] dilation_rates = [1, 2, 4] mode = longnet block_size = 16
      : memref<1x64x4x16xf32>, memref<1x64x4x16xf32>, memref<1x64x4x16xf32>, memref<1x64x4x16xf32>
  return
}

// -----

// Longnet with blocked offsets, causal, masks and an item range: the same
// fusion (the segment_attention ops keep their other operands).
// CHECK-LABEL: func.func @longnet_masks_causal(
// CHECK-COUNT-3: memref.alloca()
// CHECK-NOT: memref.alloca
// CHECK-COUNT-3: linalg.fill
// CHECK-NOT: linalg.fill
// CHECK: dilattn.segment_attention {{.*}} key_bias({{.*}}) attn_bias({{.*}}) state({{.*}}) causal(
// CHECK: dilattn.segment_attention {{.*}} key_bias({{.*}}) attn_bias({{.*}}) state({{.*}}) causal(
// CHECK-NOT: dilattn.segment_attention
// CHECK: dilattn.write_states states(%{{[^,:]+}} : memref<?xf32, strided<[1]>>) sums(%{{[^,:]+}} : memref<?xf32, strided<[1]>>) accs(%{{[^,:]+}} : memref<?x16xf32, strided<[16, 1]>>) outs(
func.func @longnet_masks_causal(%q: memref<2x64x4x16xf32>, %kpm: memref<2x64xf32>, %am: memref<2x4x64x64xf32>, %o: memref<2x64x4x16xf32>,
                                %b: index, %e: index) {
  dilattn.write_dilated_attention ins(%q, %q, %q) key_padding_mask(%kpm : memref<2x64xf32>) attn_mask(%am : memref<2x4x64x64xf32>)
      outs(%o) items(%b, %e)
      segment_lengths = [16, 64] dilation_rates = [1, 2] mode = longnet offset_rule = blocked causal block_size = 16
      : memref<2x64x4x16xf32>, memref<2x64x4x16xf32>, memref<2x64x4x16xf32>, memref<2x64x4x16xf32>
  return
}

// -----

// Two longnet calls in one function: each keeps one state of its own.
// CHECK-LABEL: func.func @longnet_two_calls(
// CHECK: %[[MAXA:.+]] = memref.alloca() : memref<8xf32>
// CHECK-COUNT-2: memref.alloca()
// CHECK-NOT: memref.alloca
// CHECK: scf.for
// CHECK: dilattn.write_states states(%{{[^,:]+}} : memref<?xf32, strided<[1]>>) sums(
// CHECK: %[[MAXB:.+]] = memref.alloca() : memref<8xf32>
// CHECK-COUNT-2: memref.alloca()
// CHECK-NOT: memref.alloca
// CHECK: scf.for
// CHECK: memref.subview %[[MAXB]][
// CHECK-NOT: memref.subview %[[MAXA]][
// CHECK: dilattn.write_states states(%{{[^,:]+}} : memref<?xf32, strided<[1]>>) sums(
func.func @longnet_two_calls(%q: memref<1x32x2x8xf32>, %o: memref<1x32x2x8xf32>) {
  dilattn.write_dilated_attention ins(%q, %q, %q) outs(%o)
      segment_lengths = [8, 16] dilation_rates = [1, 2] mode = longnet block_size = 8
      : memref<1x32x2x8xf32>, memref<1x32x2x8xf32>, memref<1x32x2x8xf32>, memref<1x32x2x8xf32>
  dilattn.write_dilated_attention ins(%o, %o, %o) outs(%q)
      segment_lengths = [16, 32] dilation_rates = [2, 4] mode = longnet block_size = 8
      : memref<1x32x2x8xf32>, memref<1x32x2x8xf32>, memref<1x32x2x8xf32>, memref<1x32x2x8xf32>
  return
}

// -----

// Grouped mode already has one state: nothing changes (3 buffers, 3 fills,
// both groups' segment_attention on views of them, output scale 1/2).
// CHECK-LABEL: func.func @grouped_unchanged(
// CHECK: %[[MAX:.+]] = memref.alloca() : memref<16xf32>
// CHECK-NEXT: %[[SUM:.+]] = memref.alloca() : memref<16xf32>
// CHECK-NEXT: %[[ACC:.+]] = memref.alloca() : memref<16x16xf32>
// CHECK-NOT: memref.alloca
// CHECK-COUNT-3: linalg.fill
// CHECK-NOT: linalg.fill
// CHECK: scf.if
// CHECK: memref.subview %[[MAX]][
// CHECK: dilattn.segment_attention
// CHECK: scf.if
// CHECK: memref.subview %[[MAX]][
// CHECK: dilattn.segment_attention
// CHECK: %[[WM:.+]] = memref.subview %[[MAX]][0]
// CHECK-NEXT: %[[WS:.+]] = memref.subview %[[SUM]][0]
// CHECK-NEXT: %[[WA:.+]] = memref.subview %[[ACC]][0, 0]
// CHECK-NEXT: dilattn.write_states states(%[[WM]] : memref<?xf32, strided<[1]>>) sums(%[[WS]] : memref<?xf32, strided<[1]>>) accs(%[[WA]] : memref<?x16xf32, strided<[16, 1]>>) outs(%{{[^:]+}} : memref<?x16xf32, strided<[64, 1], offset: ?>>) output_scale = 5.000000e-01{{$}}
func.func @grouped_unchanged(%q: memref<1x64x4x16xf32>, %o: memref<1x64x4x16xf32>) {
  dilattn.write_dilated_attention ins(%q, %q, %q) outs(%o)
      segment_lengths = [16, 32] dilation_rates = [1, 2] block_size = 16
      : memref<1x64x4x16xf32>, memref<1x64x4x16xf32>, memref<1x64x4x16xf32>, memref<1x64x4x16xf32>
  return
}

// -----

// States that are function arguments (not scratch buffers): left untouched.
// CHECK-LABEL: func.func @states_are_arguments(
// CHECK-SAME: %[[M0:[a-zA-Z0-9_]+]]: memref<8xf32>, %[[M1:[a-zA-Z0-9_]+]]: memref<8xf32>, %[[M2:[a-zA-Z0-9_]+]]: memref<8xf32>, %[[S0:[a-zA-Z0-9_]+]]: memref<8xf32>, %[[S1:[a-zA-Z0-9_]+]]: memref<8xf32>, %[[S2:[a-zA-Z0-9_]+]]: memref<8xf32>,
// CHECK-SAME: %[[A0:[a-zA-Z0-9_]+]]: memref<8x16xf32>, %[[A1:[a-zA-Z0-9_]+]]: memref<8x16xf32>, %[[A2:[a-zA-Z0-9_]+]]: memref<8x16xf32>, %[[O:[a-zA-Z0-9_]+]]: memref<8x16xf32>)
// CHECK-NEXT: dilattn.write_states states(%[[M0]], %[[M1]], %[[M2]] : memref<8xf32>, memref<8xf32>, memref<8xf32>) sums(%[[S0]], %[[S1]], %[[S2]] : memref<8xf32>, memref<8xf32>, memref<8xf32>) accs(%[[A0]], %[[A1]], %[[A2]] : memref<8x16xf32>, memref<8x16xf32>, memref<8x16xf32>) outs(%[[O]] : memref<8x16xf32>) output_scale = 1.000000e+00{{$}}
// CHECK-NEXT: return
func.func @states_are_arguments(%m0: memref<8xf32>, %m1: memref<8xf32>, %m2: memref<8xf32>,
                                %s0: memref<8xf32>, %s1: memref<8xf32>, %s2: memref<8xf32>,
                                %a0: memref<8x16xf32>, %a1: memref<8x16xf32>, %a2: memref<8x16xf32>, %o: memref<8x16xf32>) {
  dilattn.write_states states(%m0, %m1, %m2 : memref<8xf32>, memref<8xf32>, memref<8xf32>)
      sums(%s0, %s1, %s2 : memref<8xf32>, memref<8xf32>, memref<8xf32>)
      accs(%a0, %a1, %a2 : memref<8x16xf32>, memref<8x16xf32>, memref<8x16xf32>)
      outs(%o : memref<8x16xf32>) output_scale = 1.0
  return
}

// -----

// Scratch buffers for the first state, but the second state's acc is an
// argument: nothing is fused (all or nothing), no buffer or fill is removed.
// CHECK-LABEL: func.func @mixed_states(
// CHECK-SAME: %[[A1:[a-zA-Z0-9_]+]]: memref<8x16xf32>, %[[O:[a-zA-Z0-9_]+]]: memref<8x16xf32>)
// CHECK-COUNT-5: memref.alloca()
// CHECK-COUNT-5: linalg.fill
// CHECK: dilattn.write_states states(%{{[^,]+}}, %{{[^,:]+}} : {{.+}}) sums(%{{[^,]+}}, %{{[^,:]+}} : {{.+}}) accs(%{{[^,]+}}, %[[A1]] : memref<8x16xf32, strided<[16, 1]>>, memref<8x16xf32>) outs(%[[O]] : memref<8x16xf32>)
func.func @mixed_states(%a1: memref<8x16xf32>, %o: memref<8x16xf32>) {
  %zero = arith.constant 0.0 : f32
  %m0 = memref.alloca() : memref<8xf32>
  %s0 = memref.alloca() : memref<8xf32>
  %a0 = memref.alloca() : memref<8x16xf32>
  %m1 = memref.alloca() : memref<8xf32>
  %s1 = memref.alloca() : memref<8xf32>
  linalg.fill ins(%zero : f32) outs(%m0 : memref<8xf32>)
  linalg.fill ins(%zero : f32) outs(%s0 : memref<8xf32>)
  linalg.fill ins(%zero : f32) outs(%a0 : memref<8x16xf32>)
  linalg.fill ins(%zero : f32) outs(%m1 : memref<8xf32>)
  linalg.fill ins(%zero : f32) outs(%s1 : memref<8xf32>)
  %vm0 = memref.subview %m0[0] [8] [1] : memref<8xf32> to memref<8xf32, strided<[1]>>
  %vs0 = memref.subview %s0[0] [8] [1] : memref<8xf32> to memref<8xf32, strided<[1]>>
  %va0 = memref.subview %a0[0, 0] [8, 16] [1, 1] : memref<8x16xf32> to memref<8x16xf32, strided<[16, 1]>>
  %vm1 = memref.subview %m1[0] [8] [1] : memref<8xf32> to memref<8xf32, strided<[1]>>
  %vs1 = memref.subview %s1[0] [8] [1] : memref<8xf32> to memref<8xf32, strided<[1]>>
  dilattn.write_states states(%vm0, %vm1 : memref<8xf32, strided<[1]>>, memref<8xf32, strided<[1]>>)
      sums(%vs0, %vs1 : memref<8xf32, strided<[1]>>, memref<8xf32, strided<[1]>>)
      accs(%va0, %a1 : memref<8x16xf32, strided<[16, 1]>>, memref<8x16xf32>)
      outs(%o : memref<8x16xf32>) output_scale = 1.0
  return
}

// -----

// Allocas with another use than initialisation and views (here a store):
// not scratch buffers, left untouched.
// CHECK-LABEL: func.func @alloca_with_other_use(
// CHECK-COUNT-6: memref.alloca()
// CHECK: memref.store
// CHECK: dilattn.write_states states(%{{[^,]+}}, %{{[^,:]+}} : {{.+}}) sums(%{{[^,]+}}, %{{[^,:]+}} : {{.+}}) accs(%{{[^,]+}}, %{{[^,:]+}} : {{.+}}) outs(
func.func @alloca_with_other_use(%o: memref<8x16xf32>, %i: index, %x: f32) {
  %m0 = memref.alloca() : memref<8xf32>
  %s0 = memref.alloca() : memref<8xf32>
  %a0 = memref.alloca() : memref<8x16xf32>
  %m1 = memref.alloca() : memref<8xf32>
  %s1 = memref.alloca() : memref<8xf32>
  %a1 = memref.alloca() : memref<8x16xf32>
  memref.store %x, %s1[%i] : memref<8xf32>
  %vm0 = memref.subview %m0[0] [8] [1] : memref<8xf32> to memref<8xf32, strided<[1]>>
  %vs0 = memref.subview %s0[0] [8] [1] : memref<8xf32> to memref<8xf32, strided<[1]>>
  %va0 = memref.subview %a0[0, 0] [8, 16] [1, 1] : memref<8x16xf32> to memref<8x16xf32, strided<[16, 1]>>
  %vm1 = memref.subview %m1[0] [8] [1] : memref<8xf32> to memref<8xf32, strided<[1]>>
  %vs1 = memref.subview %s1[0] [8] [1] : memref<8xf32> to memref<8xf32, strided<[1]>>
  %va1 = memref.subview %a1[0, 0] [8, 16] [1, 1] : memref<8x16xf32> to memref<8x16xf32, strided<[16, 1]>>
  dilattn.write_states states(%vm0, %vm1 : memref<8xf32, strided<[1]>>, memref<8xf32, strided<[1]>>)
      sums(%vs0, %vs1 : memref<8xf32, strided<[1]>>, memref<8xf32, strided<[1]>>)
      accs(%va0, %va1 : memref<8x16xf32, strided<[16, 1]>>, memref<8x16xf32, strided<[16, 1]>>)
      outs(%o : memref<8x16xf32>) output_scale = 1.0
  return
}

// -----

// Two states that are views of the same scratch buffers (the rows [0, 8) and
// [8, 16) of one max, one sum and one acc alloca): folding them into each
// other would merge two different rows, so nothing changes (3 buffers, 3
// fills, both states still read).
// CHECK-LABEL: func.func @states_share_alloca(
// CHECK-SAME: %[[O:[a-zA-Z0-9_]+]]: memref<8x16xf32>)
// CHECK: %[[M:.+]] = memref.alloca() : memref<16xf32>
// CHECK-NEXT: %[[S:.+]] = memref.alloca() : memref<16xf32>
// CHECK-NEXT: %[[A:.+]] = memref.alloca() : memref<16x16xf32>
// CHECK-NOT: memref.alloca
// CHECK-NEXT: linalg.fill ins(%{{.+}} : f32) outs(%[[M]] : memref<16xf32>)
// CHECK-NEXT: linalg.fill ins(%{{.+}} : f32) outs(%[[S]] : memref<16xf32>)
// CHECK-NEXT: linalg.fill ins(%{{.+}} : f32) outs(%[[A]] : memref<16x16xf32>)
// CHECK-NEXT: %[[VM0:.+]] = memref.subview %[[M]][0] [8] [1]
// CHECK-NEXT: %[[VS0:.+]] = memref.subview %[[S]][0] [8] [1]
// CHECK-NEXT: %[[VA0:.+]] = memref.subview %[[A]][0, 0] [8, 16] [1, 1]
// CHECK-NEXT: %[[VM1:.+]] = memref.subview %[[M]][8] [8] [1]
// CHECK-NEXT: %[[VS1:.+]] = memref.subview %[[S]][8] [8] [1]
// CHECK-NEXT: %[[VA1:.+]] = memref.subview %[[A]][8, 0] [8, 16] [1, 1]
// CHECK-NEXT: dilattn.write_states states(%[[VM0]], %[[VM1]] : memref<8xf32, strided<[1]>>, memref<8xf32, strided<[1], offset: 8>>) sums(%[[VS0]], %[[VS1]] : memref<8xf32, strided<[1]>>, memref<8xf32, strided<[1], offset: 8>>) accs(%[[VA0]], %[[VA1]] : memref<8x16xf32, strided<[16, 1]>>, memref<8x16xf32, strided<[16, 1], offset: 128>>) outs(%[[O]] : memref<8x16xf32>) output_scale = 1.000000e+00{{$}}
// CHECK-NEXT: return
func.func @states_share_alloca(%o: memref<8x16xf32>) {
  %neg_inf = arith.constant 0xFF800000 : f32
  %zero = arith.constant 0.0 : f32
  %m = memref.alloca() : memref<16xf32>
  %s = memref.alloca() : memref<16xf32>
  %a = memref.alloca() : memref<16x16xf32>
  linalg.fill ins(%neg_inf : f32) outs(%m : memref<16xf32>)
  linalg.fill ins(%zero : f32) outs(%s : memref<16xf32>)
  linalg.fill ins(%zero : f32) outs(%a : memref<16x16xf32>)
  %vm0 = memref.subview %m[0] [8] [1] : memref<16xf32> to memref<8xf32, strided<[1]>>
  %vs0 = memref.subview %s[0] [8] [1] : memref<16xf32> to memref<8xf32, strided<[1]>>
  %va0 = memref.subview %a[0, 0] [8, 16] [1, 1] : memref<16x16xf32> to memref<8x16xf32, strided<[16, 1]>>
  %vm1 = memref.subview %m[8] [8] [1] : memref<16xf32> to memref<8xf32, strided<[1], offset: 8>>
  %vs1 = memref.subview %s[8] [8] [1] : memref<16xf32> to memref<8xf32, strided<[1], offset: 8>>
  %va1 = memref.subview %a[8, 0] [8, 16] [1, 1] : memref<16x16xf32> to memref<8x16xf32, strided<[16, 1], offset: 128>>
  dilattn.write_states states(%vm0, %vm1 : memref<8xf32, strided<[1]>>, memref<8xf32, strided<[1], offset: 8>>)
      sums(%vs0, %vs1 : memref<8xf32, strided<[1]>>, memref<8xf32, strided<[1], offset: 8>>)
      accs(%va0, %va1 : memref<8x16xf32, strided<[16, 1]>>, memref<8x16xf32, strided<[16, 1], offset: 128>>)
      outs(%o : memref<8x16xf32>) output_scale = 1.0
  return
}

// -----

// Scratch buffers of different types (the second state's acc alloca has 16
// rows, the first's 8; the views read are the same type): folding one into
// the other would leave views out of bounds, so nothing changes (6 buffers, 6
// fills, both states still read).
// CHECK-LABEL: func.func @allocas_differ_in_type(
// CHECK-SAME: %[[O:[a-zA-Z0-9_]+]]: memref<8x16xf32>)
// CHECK: %[[M0:.+]] = memref.alloca() : memref<8xf32>
// CHECK-NEXT: %[[S0:.+]] = memref.alloca() : memref<8xf32>
// CHECK-NEXT: %[[A0:.+]] = memref.alloca() : memref<8x16xf32>
// CHECK-NEXT: %[[M1:.+]] = memref.alloca() : memref<8xf32>
// CHECK-NEXT: %[[S1:.+]] = memref.alloca() : memref<8xf32>
// CHECK-NEXT: %[[A1:.+]] = memref.alloca() : memref<16x16xf32>
// CHECK-NOT: memref.alloca
// CHECK-NEXT: linalg.fill ins(%{{.+}} : f32) outs(%[[M0]] : memref<8xf32>)
// CHECK-NEXT: linalg.fill ins(%{{.+}} : f32) outs(%[[S0]] : memref<8xf32>)
// CHECK-NEXT: linalg.fill ins(%{{.+}} : f32) outs(%[[A0]] : memref<8x16xf32>)
// CHECK-NEXT: linalg.fill ins(%{{.+}} : f32) outs(%[[M1]] : memref<8xf32>)
// CHECK-NEXT: linalg.fill ins(%{{.+}} : f32) outs(%[[S1]] : memref<8xf32>)
// CHECK-NEXT: linalg.fill ins(%{{.+}} : f32) outs(%[[A1]] : memref<16x16xf32>)
// CHECK-NEXT: %[[VM0:.+]] = memref.subview %[[M0]][0] [8] [1]
// CHECK-NEXT: %[[VS0:.+]] = memref.subview %[[S0]][0] [8] [1]
// CHECK-NEXT: %[[VA0:.+]] = memref.subview %[[A0]][0, 0] [8, 16] [1, 1]
// CHECK-NEXT: %[[VM1:.+]] = memref.subview %[[M1]][0] [8] [1]
// CHECK-NEXT: %[[VS1:.+]] = memref.subview %[[S1]][0] [8] [1]
// CHECK-NEXT: %[[VA1:.+]] = memref.subview %[[A1]][0, 0] [8, 16] [1, 1]
// CHECK-NEXT: dilattn.write_states states(%[[VM0]], %[[VM1]] : memref<8xf32, strided<[1]>>, memref<8xf32, strided<[1]>>) sums(%[[VS0]], %[[VS1]] : memref<8xf32, strided<[1]>>, memref<8xf32, strided<[1]>>) accs(%[[VA0]], %[[VA1]] : memref<8x16xf32, strided<[16, 1]>>, memref<8x16xf32, strided<[16, 1]>>) outs(%[[O]] : memref<8x16xf32>) output_scale = 1.000000e+00{{$}}
// CHECK-NEXT: return
func.func @allocas_differ_in_type(%o: memref<8x16xf32>) {
  %neg_inf = arith.constant 0xFF800000 : f32
  %zero = arith.constant 0.0 : f32
  %m0 = memref.alloca() : memref<8xf32>
  %s0 = memref.alloca() : memref<8xf32>
  %a0 = memref.alloca() : memref<8x16xf32>
  %m1 = memref.alloca() : memref<8xf32>
  %s1 = memref.alloca() : memref<8xf32>
  %a1 = memref.alloca() : memref<16x16xf32>
  linalg.fill ins(%neg_inf : f32) outs(%m0 : memref<8xf32>)
  linalg.fill ins(%zero : f32) outs(%s0 : memref<8xf32>)
  linalg.fill ins(%zero : f32) outs(%a0 : memref<8x16xf32>)
  linalg.fill ins(%neg_inf : f32) outs(%m1 : memref<8xf32>)
  linalg.fill ins(%zero : f32) outs(%s1 : memref<8xf32>)
  linalg.fill ins(%zero : f32) outs(%a1 : memref<16x16xf32>)
  %vm0 = memref.subview %m0[0] [8] [1] : memref<8xf32> to memref<8xf32, strided<[1]>>
  %vs0 = memref.subview %s0[0] [8] [1] : memref<8xf32> to memref<8xf32, strided<[1]>>
  %va0 = memref.subview %a0[0, 0] [8, 16] [1, 1] : memref<8x16xf32> to memref<8x16xf32, strided<[16, 1]>>
  %vm1 = memref.subview %m1[0] [8] [1] : memref<8xf32> to memref<8xf32, strided<[1]>>
  %vs1 = memref.subview %s1[0] [8] [1] : memref<8xf32> to memref<8xf32, strided<[1]>>
  %va1 = memref.subview %a1[0, 0] [8, 16] [1, 1] : memref<16x16xf32> to memref<8x16xf32, strided<[16, 1]>>
  dilattn.write_states states(%vm0, %vm1 : memref<8xf32, strided<[1]>>, memref<8xf32, strided<[1]>>)
      sums(%vs0, %vs1 : memref<8xf32, strided<[1]>>, memref<8xf32, strided<[1]>>)
      accs(%va0, %va1 : memref<8x16xf32, strided<[16, 1]>>, memref<8x16xf32, strided<[16, 1]>>)
      outs(%o : memref<8x16xf32>) output_scale = 1.0
  return
}

// -----

// The forward with statistics: fusion keeps the lse view of write_states
// (the fused state's denominator is the union's, so its log is the row's
// lse). The backward has no states to fuse: its segment ops pass through.
// CHECK-LABEL: func.func @with_lse(
// CHECK-COUNT-3: memref.alloca()
// CHECK-NOT: memref.alloca()
// CHECK: dilattn.write_states states(%{{.+}} : memref<?xf32, strided<[1]>>) sums(%{{.+}} : memref<?xf32, strided<[1]>>) accs(%{{.+}} : memref<?x16xf32, strided<[16, 1]>>) outs(%{{.+}}) lse(%{{.+}} : memref<?xf32, strided<[4], offset: ?>>)
// CHECK: dilattn.segment_attention_grad
// CHECK: dilattn.segment_attention_grad
func.func @with_lse(%q: memref<2x64x4x16xf32>, %lse: memref<2x64x4xf32>) {
  dilattn.write_dilated_attention ins(%q, %q, %q) outs(%q) lse(%lse : memref<2x64x4xf32>)
      segment_lengths = [16, 32] dilation_rates = [1, 2] mode = longnet block_size = 16
      : memref<2x64x4x16xf32>, memref<2x64x4x16xf32>, memref<2x64x4x16xf32>, memref<2x64x4x16xf32>
  dilattn.write_dilated_attention_grad ins(%q, %q, %q, %q, %lse, %q) outs(%q, %q, %q)
      segment_lengths = [16, 32] dilation_rates = [1, 2] mode = longnet
      : memref<2x64x4x16xf32>, memref<2x64x4x16xf32>, memref<2x64x4x16xf32>, memref<2x64x4x16xf32>, memref<2x64x4xf32>, memref<2x64x4x16xf32>, memref<2x64x4x16xf32>, memref<2x64x4x16xf32>, memref<2x64x4x16xf32>
  return
}
