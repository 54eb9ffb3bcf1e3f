// RUN: dilattn-opt %s -split-input-file -dilattn-tile-segments -verify-diagnostics | FileCheck %s --enable-var-scope

// Segment tiling of dilattn.write_dilated_attention: one loop over the work
// items (b, h, block), per pattern a loop over the segments meeting the block,
// and per segment one dilattn.segment_attention on strided views (stride = the
// dilation rate) of the inputs and of the online-softmax state; then
// dilattn.write_states writes the block.

// Grouped mode, 2 patterns, H = 4 (two groups of 2 heads), D = 16: the default
// scale is 1/sqrt(16) and the output scale 1/k.
// CHECK-LABEL: func.func @grouped(
// CHECK-SAME: %[[Q:[a-zA-Z0-9_]+]]: memref<2x64x4x16xf32>, %[[K:[a-zA-Z0-9_]+]]: memref<2x64x4x16xf32>, %[[V:[a-zA-Z0-9_]+]]: memref<2x64x4x16xf32>, %[[O:[a-zA-Z0-9_]+]]: memref<2x64x4x16xf32>)
// The work items: B * H * ceil(N / block_size), from 0.
// CHECK: %[[B:.+]] = memref.dim %[[Q]], %{{.+}} : memref<2x64x4x16xf32>
// CHECK: %[[N:.+]] = memref.dim %[[Q]], %{{.+}} : memref<2x64x4x16xf32>
// CHECK: %[[H:.+]] = memref.dim %[[Q]], %{{.+}} : memref<2x64x4x16xf32>
// CHECK: %[[BLOCK:.+]] = arith.constant 16 : index
// CHECK: %[[NB:.+]] = arith.ceildivui %[[N]], %[[BLOCK]] : index
// CHECK: %[[ZERO:.+]] = arith.constant 0 : index
// CHECK: %[[BH:.+]] = arith.muli %[[B]], %[[H]] : index
// CHECK: %[[END:.+]] = arith.muli %[[BH]], %[[NB]] : index
// One state (a head uses one pattern), allocated once, before the item loop.
// CHECK: %[[MAX:.+]] = memref.alloca() : memref<16xf32>
// CHECK-NEXT: %[[SUM:.+]] = memref.alloca() : memref<16xf32>
// CHECK-NEXT: %[[ACC:.+]] = memref.alloca() : memref<16x16xf32>
// CHECK-NOT: memref.alloca
// CHECK: scf.for %[[ITEM:.+]] = %[[ZERO]] to %[[END]] step %{{.+}} {
// The item decode: block fastest, then head, then batch.
// CHECK-NEXT: %[[BLK:.+]] = arith.remui %[[ITEM]], %[[NB]] : index
// CHECK-NEXT: %[[BHI:.+]] = arith.divui %[[ITEM]], %[[NB]] : index
// CHECK-NEXT: %[[HEAD:.+]] = arith.remui %[[BHI]], %[[H]] : index
// CHECK-NEXT: %[[BATCH:.+]] = arith.divui %[[BHI]], %[[H]] : index
// CHECK-NEXT: %[[X0:.+]] = arith.muli %[[BLK]], %[[BLOCK]] : index
// CHECK-NEXT: %[[X0B:.+]] = arith.addi %[[X0]], %[[BLOCK]] : index
// CHECK-NEXT: %[[X1:.+]] = arith.minui %[[X0B]], %[[N]] : index
// The state is reset for every item.
// CHECK: %[[NEGINF:.+]] = arith.constant 0xFF800000 : f32
// CHECK: %[[FZERO:.+]] = arith.constant 0.000000e+00 : f32
// CHECK: linalg.fill ins(%[[NEGINF]] : f32) outs(%[[MAX]] : memref<16xf32>)
// CHECK: linalg.fill ins(%[[FZERO]] : f32) outs(%[[SUM]] : memref<16xf32>)
// CHECK: linalg.fill ins(%[[FZERO]] : f32) outs(%[[ACC]] : memref<16x16xf32>)
// The head's group: k contiguous groups, the first H mod k one larger.
// CHECK: %[[KPAT:.+]] = arith.constant 2 : index
// CHECK: %[[BASE:.+]] = arith.divui %[[H]], %[[KPAT]] : index
// CHECK: %[[EXTRA:.+]] = arith.remui %[[H]], %[[KPAT]] : index
// CHECK: %[[LARGE:.+]] = arith.addi %[[BASE]], %{{.+}} : index
// CHECK: %[[LHEADS:.+]] = arith.muli %[[EXTRA]], %[[LARGE]] : index
// CHECK: %[[INLARGE:.+]] = arith.cmpi ult, %[[HEAD]], %[[LHEADS]] : index
// CHECK: %[[GLARGE:.+]] = arith.divui %[[HEAD]], %[[LARGE]] : index
// CHECK: %[[REST:.+]] = arith.subi %[[HEAD]], %[[LHEADS]] : index
// CHECK: %[[GSMALL0:.+]] = arith.divui %[[REST]], %[[BASE]] : index
// CHECK: %[[GSMALL:.+]] = arith.addi %[[EXTRA]], %[[GSMALL0]] : index
// CHECK: %[[GROUP:.+]] = arith.select %[[INLARGE]], %[[GLARGE]], %[[GSMALL]] : index
// Group 0: pattern (16, 1), offset 0 mod 1 = 0.
// CHECK: %[[G0:.+]] = arith.constant 0 : index
// CHECK: %[[IN0:.+]] = arith.cmpi eq, %[[GROUP]], %[[G0]] : index
// CHECK: scf.if %[[IN0]] {
// CHECK-NEXT: %[[W0:.+]] = arith.constant 16 : index
// CHECK-NEXT: %{{.+}} = arith.constant 1 : index
// CHECK-NEXT: %{{.+}} = arith.constant 1 : index
// CHECK-NEXT: %[[OFF0:.+]] = arith.constant 0 : index
// CHECK: %[[FIRSTSEG0:.+]] = arith.divui %[[X0]], %[[W0]] : index
// CHECK: scf.for %[[SEG0:.+]] = %[[FIRSTSEG0]] to %{{.+}} step %{{.+}} {
// CHECK: %[[SS0:.+]] = arith.muli %[[SEG0]], %[[W0]] : index
// CHECK: %[[P00:.+]] = arith.addi %[[SS0]], %[[OFF0]] : index
// CHECK: scf.if
// CHECK: scf.if
// CHECK: %[[Q0:.+]] = memref.subview %[[Q]][%[[BATCH]], %{{.+}}, %[[HEAD]], 0] [1, %[[NQ0:.+]], 1, 16] [1, 1, 1, 1] : memref<2x64x4x16xf32> to memref<?x16xf32, strided<[64, 1], offset: ?>>
// CHECK: %[[K0:.+]] = memref.subview %[[K]][%[[BATCH]], %[[P00]], %[[HEAD]], 0] [1, %[[NK0:.+]], 1, 16] [1, 1, 1, 1] : memref<2x64x4x16xf32> to memref<?x16xf32, strided<[64, 1], offset: ?>>
// CHECK: %[[V0:.+]] = memref.subview %[[V]][%[[BATCH]], %[[P00]], %[[HEAD]], 0] [1, %[[NK0]], 1, 16] [1, 1, 1, 1] : memref<2x64x4x16xf32> to memref<?x16xf32, strided<[64, 1], offset: ?>>
// CHECK: %[[M0:.+]] = memref.subview %[[MAX]][%[[LS0:.+]]] [%[[NQ0]]] [1] : memref<16xf32> to memref<?xf32, strided<[1], offset: ?>>
// CHECK: %[[S0:.+]] = memref.subview %[[SUM]][%[[LS0]]] [%[[NQ0]]] [1] : memref<16xf32> to memref<?xf32, strided<[1], offset: ?>>
// CHECK: %[[A0:.+]] = memref.subview %[[ACC]][%[[LS0]], 0] [%[[NQ0]], 16] [1, 1] : memref<16x16xf32> to memref<?x16xf32, strided<[16, 1], offset: ?>>
// CHECK: dilattn.segment_attention query(%[[Q0]]) key(%[[K0]]) value(%[[V0]]) state(%[[M0]], %[[S0]], %[[A0]]) scale = 2.500000e-01 :
// Group 1: pattern (32, 2), offset 1 mod 2 = 1, every view with stride 2.
// CHECK: %[[G1:.+]] = arith.constant 1 : index
// CHECK: %[[IN1:.+]] = arith.cmpi eq, %[[GROUP]], %[[G1]] : index
// CHECK: scf.if %[[IN1]] {
// CHECK-NEXT: %[[W1:.+]] = arith.constant 32 : index
// CHECK-NEXT: %[[R1:.+]] = arith.constant 2 : index
// CHECK-NEXT: %{{.+}} = arith.constant 1 : index
// CHECK-NEXT: %[[OFF1:.+]] = arith.constant 1 : index
// CHECK: scf.for %[[SEG1:.+]] = %{{.+}} to %{{.+}} step %{{.+}} {
// CHECK: %[[SS1:.+]] = arith.muli %[[SEG1]], %[[W1]] : index
// CHECK: %[[SE1:.+]] = arith.minui %{{.+}}, %[[N]] : index
// CHECK: %[[P01:.+]] = arith.addi %[[SS1]], %[[OFF1]] : index
// Queries of the block: t in [ceil((max(x0, p0) - p0) / r), ceil((min(x1, e) - p0) / r)).
// CHECK: %[[LO1:.+]] = arith.maxui %[[X0]], %[[P01]] : index
// CHECK: %[[HI1:.+]] = arith.minui %[[X1]], %[[SE1]] : index
// CHECK: %[[NONEMPTY1:.+]] = arith.cmpi ult, %[[LO1]], %[[HI1]] : index
// CHECK: scf.if %[[NONEMPTY1]] {
// CHECK: %[[FQ1:.+]] = arith.ceildivui %{{.+}}, %[[R1]] : index
// CHECK: %[[EQ1:.+]] = arith.ceildivui %{{.+}}, %[[R1]] : index
// CHECK: %[[HASQ1:.+]] = arith.cmpi ult, %[[FQ1]], %[[EQ1]] : index
// CHECK: scf.if %[[HASQ1]] {
// CHECK: %[[NQ1:.+]] = arith.subi %[[EQ1]], %[[FQ1]] : index
// CHECK: %[[SEGKEYS1:.+]] = arith.subi %[[SE1]], %[[P01]] : index
// CHECK: %[[NK1:.+]] = arith.ceildivui %[[SEGKEYS1]], %[[R1]] : index
// CHECK-NOT: arith.minui
// CHECK: %[[QOFF1:.+]] = arith.muli %[[FQ1]], %[[R1]] : index
// CHECK: %[[QS1:.+]] = arith.addi %[[P01]], %[[QOFF1]] : index
// CHECK: %[[Q1:.+]] = memref.subview %[[Q]][%[[BATCH]], %[[QS1]], %[[HEAD]], 0] [1, %[[NQ1]], 1, 16] [1, 2, 1, 1] : memref<2x64x4x16xf32> to memref<?x16xf32, strided<[128, 1], offset: ?>>
// CHECK: %[[K1:.+]] = memref.subview %[[K]][%[[BATCH]], %[[P01]], %[[HEAD]], 0] [1, %[[NK1]], 1, 16] [1, 2, 1, 1] : memref<2x64x4x16xf32> to memref<?x16xf32, strided<[128, 1], offset: ?>>
// CHECK: %[[V1:.+]] = memref.subview %[[V]][%[[BATCH]], %[[P01]], %[[HEAD]], 0] [1, %[[NK1]], 1, 16] [1, 2, 1, 1] : memref<2x64x4x16xf32> to memref<?x16xf32, strided<[128, 1], offset: ?>>
// CHECK: %[[LS1:.+]] = arith.subi %[[QS1]], %[[X0]] : index
// CHECK: %[[M1:.+]] = memref.subview %[[MAX]][%[[LS1]]] [%[[NQ1]]] [2] : memref<16xf32> to memref<?xf32, strided<[2], offset: ?>>
// CHECK: %[[S1:.+]] = memref.subview %[[SUM]][%[[LS1]]] [%[[NQ1]]] [2] : memref<16xf32> to memref<?xf32, strided<[2], offset: ?>>
// CHECK: %[[A1:.+]] = memref.subview %[[ACC]][%[[LS1]], 0] [%[[NQ1]], 16] [2, 1] : memref<16x16xf32> to memref<?x16xf32, strided<[32, 1], offset: ?>>
// CHECK: dilattn.segment_attention query(%[[Q1]]) key(%[[K1]]) value(%[[V1]]) state(%[[M1]], %[[S1]], %[[A1]]) scale = 2.500000e-01 : memref<?x16xf32, strided<[128, 1], offset: ?>>, memref<?x16xf32, strided<[128, 1], offset: ?>>, memref<?x16xf32, strided<[128, 1], offset: ?>>, memref<?xf32, strided<[2], offset: ?>>, memref<?xf32, strided<[2], offset: ?>>, memref<?x16xf32, strided<[32, 1], offset: ?>>
// Only two groups.
// CHECK-NOT: arith.cmpi eq, %[[GROUP]]
// The block [x0, x1) of (b, h) is written once, from the one state.
// CHECK: %[[ROWS:.+]] = arith.subi %[[X1]], %[[X0]] : index
// CHECK: %[[OUT:.+]] = memref.subview %[[O]][%[[BATCH]], %[[X0]], %[[HEAD]], 0] [1, %[[ROWS]], 1, 16] [1, 1, 1, 1] : memref<2x64x4x16xf32> to memref<?x16xf32, strided<[64, 1], offset: ?>>
// CHECK: %[[WM:.+]] = memref.subview %[[MAX]][0] [%[[ROWS]]] [1]
// CHECK: %[[WS:.+]] = memref.subview %[[SUM]][0] [%[[ROWS]]] [1]
// CHECK: %[[WA:.+]] = memref.subview %[[ACC]][0, 0] [%[[ROWS]], 16] [1, 1]
// CHECK: dilattn.write_states states(%[[WM]] : memref<?xf32, strided<[1]>>) sums(%[[WS]] : memref<?xf32, strided<[1]>>) accs(%[[WA]] : memref<?x16xf32, strided<[16, 1]>>) outs(%[[OUT]] : memref<?x16xf32, strided<[64, 1], offset: ?>>) output_scale = 5.000000e-01{{$}}
// CHECK-NOT: dilattn.write_dilated_attention
// CHECK-NOT: dilattn.segment_attention
// CHECK: return
func.func @grouped(%q: memref<2x64x4x16xf32>, %k: memref<2x64x4x16xf32>, %v: memref<2x64x4x16xf32>, %o: memref<2x64x4x16xf32>) {
  dilattn.write_dilated_attention ins(%q, %k, %v) outs(%o)
      segment_lengths = [16, 32] dilation_rates = [1, 2] block_size = 16
      : memref<2x64x4x16xf32>, memref<2x64x4x16xf32>, memref<2x64x4x16xf32>, memref<2x64x4x16xf32>
  return
}

// -----

// Grouped mode, 3 patterns with offsets i mod r_i = 0, 1, 2, an explicit
// scale (honoured instead of 1/sqrt(64)) and output scale 1/3.
// CHECK-LABEL: func.func @grouped_three_scale(
// CHECK-COUNT-3: memref.alloca()
// CHECK-NOT: memref.alloca
// CHECK: scf.for
// CHECK: %[[GROUP:.+]] = arith.select
// CHECK: arith.cmpi eq, %[[GROUP]]
// CHECK: scf.if
// CHECK-NEXT: arith.constant 8 : index
// CHECK-NEXT: arith.constant 1 : index
// CHECK-NEXT: arith.constant 1 : index
// CHECK-NEXT: arith.constant 0 : index
// CHECK: dilattn.segment_attention {{.*}} scale = 5.000000e-01 : memref<?x64xf32, strided<[256, 1], offset: ?>>
// CHECK: arith.cmpi eq, %[[GROUP]]
// CHECK: scf.if
// CHECK-NEXT: arith.constant 16 : index
// CHECK-NEXT: arith.constant 2 : index
// CHECK-NEXT: arith.constant 1 : index
// CHECK-NEXT: arith.constant 1 : index
// CHECK: dilattn.segment_attention {{.*}} scale = 5.000000e-01 : memref<?x64xf32, strided<[512, 1], offset: ?>>
// CHECK: arith.cmpi eq, %[[GROUP]]
// CHECK: scf.if
// CHECK-NEXT: arith.constant 32 : index
// CHECK-NEXT: arith.constant 4 : index
// CHECK-NEXT: arith.constant 1 : index
// CHECK-NEXT: arith.constant 2 : index
// CHECK: dilattn.segment_attention {{.*}} scale = 5.000000e-01 : memref<?x64xf32, strided<[1024, 1], offset: ?>>
// CHECK-NOT: arith.cmpi eq, %[[GROUP]]
// CHECK: dilattn.write_states states(%{{[^,:]+}} : memref<?xf32, strided<[1]>>) sums(%{{[^,:]+}} : memref<?xf32, strided<[1]>>) accs(%{{[^,:]+}} : memref<?x64xf32, strided<[64, 1]>>) outs(%{{[^,:]+}} : memref<?x64xf32, strided<[256, 1], offset: ?>>) output_scale = 0.33333333333333331{{$}}
func.func @grouped_three_scale(%q: memref<1x64x4x64xf32>, %o: memref<1x64x4x64xf32>) {
  dilattn.write_dilated_attention ins(%q, %q, %q) outs(%o)
      segment_lengths = [8, 16, 32] dilation_rates = [1, 2, 4] scale = 0.5 block_size = 32
      : memref<1x64x4x64xf32>, memref<1x64x4x64xf32>, memref<1x64x4x64xf32>, memref<1x64x4x64xf32>
  return
}

// -----

// Grouped mode, default scale for D = 64: 1/8.
// CHECK-LABEL: func.func @grouped_default_scale_d64(
// CHECK: dilattn.segment_attention {{.*}} scale = 1.250000e-01 :
// CHECK: dilattn.write_states {{.*}} output_scale = 1.000000e+00{{$}}
func.func @grouped_default_scale_d64(%q: memref<1x64x2x64xf32>) {
  dilattn.write_dilated_attention ins(%q, %q, %q) outs(%q)
      segment_lengths = [64] dilation_rates = [1] block_size = 32
      : memref<1x64x2x64xf32>, memref<1x64x2x64xf32>, memref<1x64x2x64xf32>, memref<1x64x2x64xf32>
  return
}

// -----

// Longnet mode (cyclic offsets): every head uses every pattern, with a state
// per pattern; no group selection; offsets j mod r_i computed from the head.
// CHECK-LABEL: func.func @longnet_cyclic(
// CHECK-SAME: %[[Q:[a-zA-Z0-9_]+]]: memref<1x64x4x16xf32>, %[[O:[a-zA-Z0-9_]+]]: memref<1x64x4x16xf32>)
// CHECK: memref.dim %[[Q]]
// CHECK: memref.dim %[[Q]]
// CHECK: %[[H:.+]] = memref.dim %[[Q]], %{{.+}} : memref<1x64x4x16xf32>
// CHECK: %[[MAX0:.+]] = memref.alloca() : memref<16xf32>
// CHECK-NEXT: %[[SUM0:.+]] = memref.alloca() : memref<16xf32>
// CHECK-NEXT: %[[ACC0:.+]] = memref.alloca() : memref<16x16xf32>
// CHECK-NEXT: %[[MAX1:.+]] = memref.alloca() : memref<16xf32>
// CHECK-NEXT: %[[SUM1:.+]] = memref.alloca() : memref<16xf32>
// CHECK-NEXT: %[[ACC1:.+]] = memref.alloca() : memref<16x16xf32>
// CHECK-NEXT: %[[MAX2:.+]] = memref.alloca() : memref<16xf32>
// CHECK-NEXT: %[[SUM2:.+]] = memref.alloca() : memref<16xf32>
// CHECK-NEXT: %[[ACC2:.+]] = memref.alloca() : memref<16x16xf32>
// CHECK-NOT: memref.alloca
// CHECK: scf.for %[[ITEM:.+]] = {{.+}} {
// CHECK: %[[BH:.+]] = arith.divui %[[ITEM]], %{{.+}} : index
// CHECK: %[[HEAD:.+]] = arith.remui %[[BH]], %[[H]] : index
// CHECK-COUNT-9: linalg.fill
// CHECK-NOT: arith.select
// CHECK-NOT: scf.if
// Pattern 0: (16, 1).
// CHECK: arith.constant 16 : index
// CHECK-NEXT: %[[R0:.+]] = arith.constant 1 : index
// CHECK-NEXT: arith.constant 1 : index
// CHECK-NEXT: %[[R0C:.+]] = arith.constant 1 : index
// CHECK-NEXT: %[[OFF0:.+]] = arith.remui %[[HEAD]], %[[R0C]] : index
// CHECK: scf.for %[[SEG0:.+]] = {{.+}} {
// CHECK: %[[P00:.+]] = arith.addi %{{.+}}, %[[OFF0]] : index
// CHECK: memref.subview %[[Q]][{{.+}}] [1, %{{.+}}, 1, 16] [1, 1, 1, 1]
// CHECK: memref.subview %[[Q]][%{{.+}}, %[[P00]], %[[HEAD]], 0] [1, %{{.+}}, 1, 16] [1, 1, 1, 1]
// CHECK: memref.subview %[[MAX0]][
// CHECK: memref.subview %[[SUM0]][
// CHECK: memref.subview %[[ACC0]][
// CHECK: dilattn.segment_attention query({{.*}}) state({{[^)]*}}) scale = 2.500000e-01 :
// Pattern 1: (32, 2).
// CHECK: arith.constant 32 : index
// CHECK-NEXT: %[[R1:.+]] = arith.constant 2 : index
// CHECK-NEXT: arith.constant 1 : index
// CHECK-NEXT: %[[R1C:.+]] = arith.constant 2 : index
// CHECK-NEXT: %[[OFF1:.+]] = arith.remui %[[HEAD]], %[[R1C]] : index
// CHECK: scf.for
// CHECK: %[[P01:.+]] = arith.addi %{{.+}}, %[[OFF1]] : index
// CHECK: memref.subview %[[Q]][%{{.+}}, %[[P01]], %[[HEAD]], 0] [1, %{{.+}}, 1, 16] [1, 2, 1, 1]
// CHECK: memref.subview %[[MAX1]][%{{.+}}] [%{{.+}}] [2]
// CHECK: memref.subview %[[SUM1]][%{{.+}}] [%{{.+}}] [2]
// CHECK: memref.subview %[[ACC1]][%{{.+}}, 0] [%{{.+}}, 16] [2, 1]
// CHECK: dilattn.segment_attention
// Pattern 2: (64, 4).
// CHECK: arith.constant 64 : index
// CHECK-NEXT: %[[R2:.+]] = arith.constant 4 : index
// CHECK-NEXT: arith.constant 1 : index
// CHECK-NEXT: %[[R2C:.+]] = arith.constant 4 : index
// CHECK-NEXT: %[[OFF2:.+]] = arith.remui %[[HEAD]], %[[R2C]] : index
// CHECK: scf.for
// CHECK: %[[P02:.+]] = arith.addi %{{.+}}, %[[OFF2]] : index
// CHECK: memref.subview %[[Q]][%{{.+}}, %[[P02]], %[[HEAD]], 0] [1, %{{.+}}, 1, 16] [1, 4, 1, 1]
// CHECK: memref.subview %[[MAX2]][%{{.+}}] [%{{.+}}] [4]
// CHECK: memref.subview %[[SUM2]][%{{.+}}] [%{{.+}}] [4]
// CHECK: memref.subview %[[ACC2]][%{{.+}}, 0] [%{{.+}}, 16] [4, 1]
// CHECK: dilattn.segment_attention
// The three states are mixed by write_states, with output scale 1.
// CHECK: %[[WM0:.+]] = memref.subview %[[MAX0]][0]
// CHECK: %[[WS0:.+]] = memref.subview %[[SUM0]][0]
// CHECK: %[[WA0:.+]] = memref.subview %[[ACC0]][0, 0]
// CHECK: %[[WM1:.+]] = memref.subview %[[MAX1]][0]
// CHECK: %[[WS1:.+]] = memref.subview %[[SUM1]][0]
// CHECK: %[[WA1:.+]] = memref.subview %[[ACC1]][0, 0]
// CHECK: %[[WM2:.+]] = memref.subview %[[MAX2]][0]
// CHECK: %[[WS2:.+]] = memref.subview %[[SUM2]][0]
// CHECK: %[[WA2:.+]] = memref.subview %[[ACC2]][0, 0]
// CHECK: dilattn.write_states states(%[[WM0]], %[[WM1]], %[[WM2]] : memref<?xf32, strided<[1]>>, memref<?xf32, strided<[1]>>, memref<?xf32, strided<[1]>>) sums(%[[WS0]], %[[WS1]], %[[WS2]] : memref<?xf32, strided<[1]>>, memref<?xf32, strided<[1]>>, memref<?xf32, strided<[1]>>) accs(%[[WA0]], %[[WA1]], %[[WA2]] : memref<?x16xf32, strided<[16, 1]>>, memref<?x16xf32, strided<[16, 1]>>, memref<?x16xf32, strided<[16, 1]>>) outs(%{{[^,:]+}} : memref<?x16xf32, strided<[64, 1], offset: ?>>) output_scale = 1.000000e+00{{$}}
func.func @longnet_cyclic(%q: memref<1x64x4x16xf32>, %o: memref<1x64x4x16xf32>) {
  dilattn.write_dilated_attention ins(%q, %q, %q) outs(%o)
      segment_lengths = [16, 32, 64] dilation_rates = [1, 2, 4] mode = longnet block_size = 16
      : memref<1x64x4x16xf32>, memref<1x64x4x16xf32>, memref<1x64x4x16xf32>, memref<1x64x4x16xf32>
  return
}

// -----

// Longnet mode, blocked offsets: floor(j / ceil(H / r_i)).
// CHECK-LABEL: func.func @longnet_blocked(
// CHECK-SAME: %[[Q:[a-zA-Z0-9_]+]]: memref<1x64x4x16xf32>
// CHECK: memref.dim %[[Q]]
// CHECK: memref.dim %[[Q]]
// CHECK: %[[H:.+]] = memref.dim %[[Q]], %{{.+}} : memref<1x64x4x16xf32>
// CHECK-COUNT-6: memref.alloca()
// CHECK-NOT: memref.alloca
// CHECK: scf.for %[[ITEM:.+]] = {{.+}} {
// CHECK: %[[HEAD:.+]] = arith.remui %{{.+}}, %[[H]] : index
// CHECK-NOT: scf.if
// CHECK: arith.constant 16 : index
// CHECK-NEXT: arith.constant 1 : index
// CHECK-NEXT: arith.constant 1 : index
// CHECK-NEXT: %[[RC0:.+]] = arith.constant 1 : index
// CHECK-NEXT: %[[HPO0:.+]] = arith.ceildivui %[[H]], %[[RC0]] : index
// CHECK-NEXT: %[[OFF0:.+]] = arith.divui %[[HEAD]], %[[HPO0]] : index
// CHECK: scf.for
// CHECK: arith.addi %{{.+}}, %[[OFF0]] : index
// CHECK: dilattn.segment_attention
// CHECK: arith.constant 32 : index
// CHECK-NEXT: arith.constant 2 : index
// CHECK-NEXT: arith.constant 1 : index
// CHECK-NEXT: %[[RC1:.+]] = arith.constant 2 : index
// CHECK-NEXT: %[[HPO1:.+]] = arith.ceildivui %[[H]], %[[RC1]] : index
// CHECK-NEXT: %[[OFF1:.+]] = arith.divui %[[HEAD]], %[[HPO1]] : index
// CHECK-NOT: arith.remui %[[HEAD]]
// CHECK: scf.for
// CHECK: arith.addi %{{.+}}, %[[OFF1]] : index
// CHECK: dilattn.segment_attention
// CHECK: dilattn.write_states states(%{{[^,:]+}}, %{{[^,:]+}} : memref<?xf32, strided<[1]>>, memref<?xf32, strided<[1]>>) sums(
func.func @longnet_blocked(%q: memref<1x64x4x16xf32>) {
  dilattn.write_dilated_attention ins(%q, %q, %q) outs(%q)
      segment_lengths = [16, 32] dilation_rates = [1, 2] mode = longnet offset_rule = blocked block_size = 16
      : memref<1x64x4x16xf32>, memref<1x64x4x16xf32>, memref<1x64x4x16xf32>, memref<1x64x4x16xf32>
  return
}

// -----

// Causal: the keys stop at the block's last selected query (minui) and
// segment_attention gets the index of its first query in the segment.
// CHECK-LABEL: func.func @causal(
// CHECK-SAME: %[[Q:[a-zA-Z0-9_]+]]: memref<1x64x2x16xf32>
// CHECK: scf.for
// CHECK: %[[R:.+]] = arith.constant 2 : index
// CHECK: scf.for
// CHECK: %[[SE:.+]] = arith.minui %{{.+}}, %{{.+}} : index
// CHECK: %[[P0:.+]] = arith.addi %{{.+}}, %{{.+}} : index
// CHECK: scf.if
// CHECK: %[[FQ:.+]] = arith.ceildivui %{{.+}}, %[[R]] : index
// CHECK: %[[EQ:.+]] = arith.ceildivui %{{.+}}, %[[R]] : index
// CHECK: scf.if
// CHECK: %[[SEGKEYS:.+]] = arith.subi %[[SE]], %[[P0]] : index
// CHECK: %[[ALLKEYS:.+]] = arith.ceildivui %[[SEGKEYS]], %[[R]] : index
// CHECK: %[[NK:.+]] = arith.minui %[[ALLKEYS]], %[[EQ]] : index
// CHECK: %[[KV:.+]] = memref.subview %[[Q]][%{{.+}}, %[[P0]], %{{.+}}, 0] [1, %[[NK]], 1, 16] [1, 2, 1, 1]
// CHECK: dilattn.segment_attention query(%{{.+}}) key(%[[KV]]) value(%{{.+}}) state(%{{.+}}) causal(%[[FQ]]) scale = 2.500000e-01 :
// CHECK: dilattn.write_states
func.func @causal(%q: memref<1x64x2x16xf32>) {
  dilattn.write_dilated_attention ins(%q, %q, %q) outs(%q)
      segment_lengths = [32] dilation_rates = [2] causal block_size = 16
      : memref<1x64x2x16xf32>, memref<1x64x2x16xf32>, memref<1x64x2x16xf32>, memref<1x64x2x16xf32>
  return
}

// -----

// Masks: the key bias row and the attention bias tile of the segment's
// selected pairs, as views with stride r (both dimensions of attn_mask).
// CHECK-LABEL: func.func @masks(
// CHECK-SAME: %[[Q:[a-zA-Z0-9_]+]]: memref<2x64x4x16xf32>, %[[KPM:[a-zA-Z0-9_]+]]: memref<2x64xf32>, %[[AM:[a-zA-Z0-9_]+]]: memref<2x4x64x64xf32, strided<[0, 0, 64, 1]>>, %[[O:[a-zA-Z0-9_]+]]: memref<2x64x4x16xf32>)
// CHECK: scf.for %[[ITEM:.+]] = {{.+}} {
// CHECK-NEXT: arith.remui %[[ITEM]]
// CHECK-NEXT: arith.divui %[[ITEM]]
// CHECK-NEXT: %[[HEAD:.+]] = arith.remui
// CHECK-NEXT: %[[BATCH:.+]] = arith.divui
// CHECK: scf.for %[[SEG:.+]] = {{.+}} {
// CHECK-NEXT: %[[SS:.+]] = arith.muli %[[SEG]], %{{.+}} : index
// CHECK-NEXT: arith.addi %[[SS]]
// CHECK-NEXT: arith.minui
// CHECK-NEXT: %[[P0:.+]] = arith.addi %[[SS]], %{{.+}} : index
// CHECK: scf.if
// CHECK: scf.if
// CHECK-NEXT: %[[NQ:.+]] = arith.subi
// CHECK: %[[NK:.+]] = arith.ceildivui
// CHECK: %[[QS:.+]] = arith.addi %[[P0]], %{{.+}} : index
// CHECK: %[[QV:.+]] = memref.subview %[[Q]][%[[BATCH]], %[[QS]], %[[HEAD]], 0] [1, %[[NQ]], 1, 16] [1, 4, 1, 1]
// CHECK: %[[KV:.+]] = memref.subview %[[Q]][%[[BATCH]], %[[P0]], %[[HEAD]], 0] [1, %[[NK]], 1, 16] [1, 4, 1, 1]
// CHECK: %[[VV:.+]] = memref.subview %[[Q]][%[[BATCH]], %[[P0]], %[[HEAD]], 0] [1, %[[NK]], 1, 16] [1, 4, 1, 1]
// CHECK: %[[KB:.+]] = memref.subview %[[KPM]][%[[BATCH]], %[[P0]]] [1, %[[NK]]] [1, 4] : memref<2x64xf32> to memref<?xf32, strided<[4], offset: ?>>
// CHECK: %[[AB:.+]] = memref.subview %[[AM]][%[[BATCH]], %[[HEAD]], %[[QS]], %[[P0]]] [1, 1, %[[NQ]], %[[NK]]] [1, 1, 4, 4] : memref<2x4x64x64xf32, strided<[0, 0, 64, 1]>> to memref<?x?xf32, strided<[256, 4], offset: ?>>
// CHECK: dilattn.segment_attention query(%[[QV]]) key(%[[KV]]) value(%[[VV]]) key_bias(%[[KB]] : memref<?xf32, strided<[4], offset: ?>>) attn_bias(%[[AB]] : memref<?x?xf32, strided<[256, 4], offset: ?>>) state(
// CHECK-NOT: causal
// CHECK: dilattn.write_states
func.func @masks(%q: memref<2x64x4x16xf32>, %kpm: memref<2x64xf32>, %am: memref<2x4x64x64xf32, strided<[0, 0, 64, 1]>>, %o: memref<2x64x4x16xf32>) {
  dilattn.write_dilated_attention ins(%q, %q, %q) key_padding_mask(%kpm : memref<2x64xf32>)
      attn_mask(%am : memref<2x4x64x64xf32, strided<[0, 0, 64, 1]>>) outs(%o)
      segment_lengths = [64] dilation_rates = [4] block_size = 16
      : memref<2x64x4x16xf32>, memref<2x64x4x16xf32>, memref<2x64x4x16xf32>, memref<2x64x4x16xf32>
  return
}

// -----

// items(%b, %e): the item loop runs over exactly [b, e), with no item count
// computed; the item decode still uses ceil(N / block_size) blocks.
// CHECK-LABEL: func.func @items(
// CHECK-SAME: %[[Q:[a-zA-Z0-9_]+]]: memref<1x64x2x16xf32>, %[[BEGIN:[a-zA-Z0-9_]+]]: index, %[[END:[a-zA-Z0-9_]+]]: index)
// CHECK: %[[NB:.+]] = arith.ceildivui
// CHECK-NOT: arith.muli
// CHECK: memref.alloca()
// CHECK: scf.for %[[ITEM:.+]] = %[[BEGIN]] to %[[END]] step %{{.+}} {
// CHECK-NEXT: arith.remui %[[ITEM]], %[[NB]] : index
// CHECK-NEXT: arith.divui %[[ITEM]], %[[NB]] : index
// CHECK: dilattn.segment_attention
// CHECK: dilattn.write_states
func.func @items(%q: memref<1x64x2x16xf32>, %b: index, %e: index) {
  dilattn.write_dilated_attention ins(%q, %q, %q) outs(%q) items(%b, %e)
      segment_lengths = [32] dilation_rates = [1] block_size = 8
      : memref<1x64x2x16xf32>, memref<1x64x2x16xf32>, memref<1x64x2x16xf32>, memref<1x64x2x16xf32>
  return
}

// -----

// Dynamic B and N: sizes come from memref.dim, and the item count is computed
// at run time. The default scale is 1/sqrt(32).
// CHECK-LABEL: func.func @dynamic(
// CHECK-SAME: %[[Q:[a-zA-Z0-9_]+]]: memref<?x?x4x32xf32>
// CHECK: %[[B:.+]] = memref.dim %[[Q]], %{{.+}} : memref<?x?x4x32xf32>
// CHECK: %[[N:.+]] = memref.dim %[[Q]], %{{.+}} : memref<?x?x4x32xf32>
// CHECK: %[[H:.+]] = memref.dim %[[Q]], %{{.+}} : memref<?x?x4x32xf32>
// CHECK: %[[NB:.+]] = arith.ceildivui %[[N]], %{{.+}} : index
// CHECK: %[[BH:.+]] = arith.muli %[[B]], %[[H]] : index
// CHECK: %[[END:.+]] = arith.muli %[[BH]], %[[NB]] : index
// CHECK: memref.alloca() : memref<64xf32>
// CHECK: memref.alloca() : memref<64xf32>
// CHECK: memref.alloca() : memref<64x32xf32>
// CHECK: scf.for %{{.+}} = %{{.+}} to %[[END]]
// CHECK: dilattn.segment_attention {{.*}} scale = 0.17677669529663687 : memref<?x32xf32, strided<[256, 1], offset: ?>>
func.func @dynamic(%q: memref<?x?x4x32xf32>) {
  dilattn.write_dilated_attention ins(%q, %q, %q) outs(%q)
      segment_lengths = [128] dilation_rates = [2] block_size = 64
      : memref<?x?x4x32xf32>, memref<?x?x4x32xf32>, memref<?x?x4x32xf32>, memref<?x?x4x32xf32>
  return
}

// -----

// Two calls in a function are tiled independently, each with its own state.
// CHECK-LABEL: func.func @two_calls(
// CHECK-COUNT-3: memref.alloca()
// CHECK: scf.for
// CHECK: dilattn.write_states
// CHECK-COUNT-3: memref.alloca()
// CHECK: scf.for
// CHECK: dilattn.write_states
// CHECK-NOT: dilattn.write_dilated_attention
func.func @two_calls(%q: memref<1x32x2x8xf32>, %o: memref<1x32x2x8xf32>) {
  dilattn.write_dilated_attention ins(%q, %q, %q) outs(%o)
      segment_lengths = [16] dilation_rates = [1] block_size = 8
      : memref<1x32x2x8xf32>, memref<1x32x2x8xf32>, memref<1x32x2x8xf32>, memref<1x32x2x8xf32>
  dilattn.write_dilated_attention ins(%o, %o, %o) outs(%q)
      segment_lengths = [32] dilation_rates = [2] block_size = 8
      : memref<1x32x2x8xf32>, memref<1x32x2x8xf32>, memref<1x32x2x8xf32>, memref<1x32x2x8xf32>
  return
}

// -----

// A dynamic head dim cannot be tiled.
func.func @dynamic_head_dim(%q: memref<1x64x4x?xf32>) {
  // expected-error @+1 {{'dilattn.write_dilated_attention' op segment tiling needs a static head dim}}
  dilattn.write_dilated_attention ins(%q, %q, %q) outs(%q)
      segment_lengths = [16] dilation_rates = [1] block_size = 16
      : memref<1x64x4x?xf32>, memref<1x64x4x?xf32>, memref<1x64x4x?xf32>, memref<1x64x4x?xf32>
  return
}

// -----

// The forward kernel with statistics: write_states also writes the block's
// rows of lse, a (x0, h) view of the (B, N, H) buffer.
// CHECK-LABEL: func.func @with_lse(
// CHECK-SAME: %[[Q:[a-zA-Z0-9_]+]]: memref<2x64x4x16xf32>, %[[L:[a-zA-Z0-9_]+]]: memref<2x64x4xf32>)
// CHECK: scf.for
// CHECK: %[[LV:.+]] = memref.subview %[[L]][%{{.+}}, %{{.+}}, %{{.+}}] [1, %{{.+}}, 1] [1, 1, 1] : memref<2x64x4xf32> to memref<?xf32, strided<[4], offset: ?>>
// CHECK: dilattn.write_states {{.*}} lse(%[[LV]] : memref<?xf32, strided<[4], offset: ?>>) output_scale = 1.000000e+00
func.func @with_lse(%q: memref<2x64x4x16xf32>, %lse: memref<2x64x4xf32>) {
  dilattn.write_dilated_attention ins(%q, %q, %q) outs(%q) lse(%lse : memref<2x64x4xf32>)
      segment_lengths = [16, 32] dilation_rates = [1, 2] mode = longnet block_size = 16
      : memref<2x64x4x16xf32>, memref<2x64x4x16xf32>, memref<2x64x4x16xf32>, memref<2x64x4x16xf32>
  return
}

// -----

// The backward kernel, longnet, causal, with a key padding bias: one work
// item per (b, h); the item zeroes its rows of the three gradients (views
// (N, D) of (b, :, h, :)), then, for every pattern, loops over all
// segments; a segment whose offset is at or past its end is skipped, else
// one segment_attention_grad runs on the strided views of its selected rows
// (stride r: here 1, then 2), queries and keys alike, causal from 0.
// CHECK-LABEL: func.func @grad_longnet(
// CHECK-SAME: %[[Q:[a-zA-Z0-9_]+]]: memref<2x64x4x16xf32>, %[[O:[a-zA-Z0-9_]+]]: memref<2x64x4x16xf32>, %[[L:[a-zA-Z0-9_]+]]: memref<2x64x4xf32>, %[[DO:[a-zA-Z0-9_]+]]: memref<2x64x4x16xf32>, %[[B:[a-zA-Z0-9_]+]]: memref<2x64xf32>, %[[DQ:[a-zA-Z0-9_]+]]: memref<2x64x4x16xf32>, %[[DK:[a-zA-Z0-9_]+]]: memref<2x64x4x16xf32>, %[[DV:[a-zA-Z0-9_]+]]: memref<2x64x4x16xf32>)
// CHECK: %[[BS:.+]] = memref.dim %[[Q]], %{{.+}} : memref<2x64x4x16xf32>
// CHECK: %[[N:.+]] = memref.dim %[[Q]], %{{.+}} : memref<2x64x4x16xf32>
// CHECK: %[[H:.+]] = memref.dim %[[Q]], %{{.+}} : memref<2x64x4x16xf32>
// CHECK: %[[END:.+]] = arith.muli %[[BS]], %[[H]] : index
// CHECK: scf.for %[[ITEM:.+]] = %{{.+}} to %[[END]] step %{{.+}} {
// CHECK-NEXT: %[[HEAD:.+]] = arith.remui %[[ITEM]], %[[H]] : index
// CHECK-NEXT: %[[BATCH:.+]] = arith.divui %[[ITEM]], %[[H]] : index
// CHECK: %[[ZQ:.+]] = memref.subview %[[DQ]][%[[BATCH]], 0, %[[HEAD]], 0] [1, %[[N]], 1, 16] [1, 1, 1, 1]
// CHECK-NEXT: linalg.fill ins(%{{.+}} : f32) outs(%[[ZQ]]
// CHECK: %[[ZK:.+]] = memref.subview %[[DK]][%[[BATCH]], 0, %[[HEAD]], 0] [1, %[[N]], 1, 16] [1, 1, 1, 1]
// CHECK-NEXT: linalg.fill ins(%{{.+}} : f32) outs(%[[ZK]]
// CHECK: %[[ZV:.+]] = memref.subview %[[DV]][%[[BATCH]], 0, %[[HEAD]], 0] [1, %[[N]], 1, 16] [1, 1, 1, 1]
// CHECK-NEXT: linalg.fill ins(%{{.+}} : f32) outs(%[[ZV]]
// Pattern 0: (16, 1), offset head mod 1.
// CHECK: %[[W0:.+]] = arith.constant 16 : index
// CHECK: %[[NSEG0:.+]] = arith.ceildivui %[[N]], %[[W0]] : index
// CHECK: scf.for %[[SEG:.+]] = %{{.+}} to %[[NSEG0]]
// CHECK: %[[S0:.+]] = arith.muli %[[SEG]], %[[W0]] : index
// CHECK: %[[E0:.+]] = arith.minui %{{.+}}, %[[N]] : index
// CHECK: %[[P0:.+]] = arith.addi %[[S0]], %{{.+}} : index
// CHECK: %[[NONEMPTY:.+]] = arith.cmpi ult, %[[P0]], %[[E0]] : index
// CHECK: scf.if %[[NONEMPTY]] {
// CHECK: %[[LV:.+]] = memref.subview %[[L]][%[[BATCH]], %[[P0]], %[[HEAD]]] [1, %{{.+}}, 1] [1, 1, 1] : memref<2x64x4xf32> to memref<?xf32, strided<[4], offset: ?>>
// CHECK: %[[KB:.+]] = memref.subview %[[B]][%[[BATCH]], %[[P0]]] [1, %{{.+}}] [1, 1]
// CHECK: %[[QV:.+]] = memref.subview %[[Q]][%[[BATCH]], %[[P0]], %[[HEAD]], 0] [1, %{{.+}}, 1, 16] [1, 1, 1, 1] : memref<2x64x4x16xf32> to memref<?x16xf32, strided<[64, 1], offset: ?>>
// CHECK: %[[OV:.+]] = memref.subview %[[O]][%[[BATCH]], %[[P0]], %[[HEAD]], 0]
// CHECK: %[[DOV:.+]] = memref.subview %[[DO]][%[[BATCH]], %[[P0]], %[[HEAD]], 0]
// CHECK: %[[DQV:.+]] = memref.subview %[[DQ]][%[[BATCH]], %[[P0]], %[[HEAD]], 0]
// CHECK: %[[DKV:.+]] = memref.subview %[[DK]][%[[BATCH]], %[[P0]], %[[HEAD]], 0]
// CHECK: %[[DVV:.+]] = memref.subview %[[DV]][%[[BATCH]], %[[P0]], %[[HEAD]], 0]
// CHECK: %[[START:.+]] = arith.constant 0 : index
// CHECK: dilattn.segment_attention_grad query(%[[QV]]) key(%{{.+}}) value(%{{.+}}) output(%[[OV]]) grad_output(%[[DOV]]) lse(%[[LV]]) key_bias(%[[KB]] : memref<?xf32, strided<[1], offset: ?>>) grads(%[[DQV]], %[[DKV]], %[[DVV]]) causal(%[[START]]) scale = 2.500000e-01 output_scale = 1.000000e+00
// Pattern 1: (32, 2): rows with stride 2.
// CHECK: %[[W1:.+]] = arith.constant 32 : index
// CHECK: scf.for
// CHECK: scf.if
// CHECK: memref.subview %[[L]]{{.*}} [1, 2, 1] : memref<2x64x4xf32> to memref<?xf32, strided<[8], offset: ?>>
// CHECK: dilattn.segment_attention_grad {{.*}} : memref<?x16xf32, strided<[128, 1], offset: ?>>
// CHECK-NOT: dilattn.write_dilated_attention_grad
func.func @grad_longnet(%q: memref<2x64x4x16xf32>, %o: memref<2x64x4x16xf32>, %lse: memref<2x64x4xf32>, %do: memref<2x64x4x16xf32>, %b: memref<2x64xf32>, %dq: memref<2x64x4x16xf32>, %dk: memref<2x64x4x16xf32>, %dv: memref<2x64x4x16xf32>) {
  dilattn.write_dilated_attention_grad ins(%q, %q, %q, %o, %lse, %do)
      key_padding_mask(%b : memref<2x64xf32>) outs(%dq, %dk, %dv)
      segment_lengths = [16, 32] dilation_rates = [1, 2] mode = longnet causal
      : memref<2x64x4x16xf32>, memref<2x64x4x16xf32>, memref<2x64x4x16xf32>, memref<2x64x4x16xf32>, memref<2x64x4xf32>, memref<2x64x4x16xf32>, memref<2x64x4x16xf32>, memref<2x64x4x16xf32>, memref<2x64x4x16xf32>
  return
}

// -----

// Grouped mode: a head runs its group's pattern only (an scf.if per group),
// with offset i mod r_i and the output scale 1/k; not causal; an (N, N)
// attention bias is viewed with the pattern's stride on both axes.
// CHECK-LABEL: func.func @grad_grouped(
// CHECK: scf.for %[[ITEM:.+]] =
// CHECK: %[[G:.+]] = arith.select
// CHECK: %[[IS0:.+]] = arith.cmpi eq, %[[G]], %{{.+}} : index
// CHECK: scf.if %[[IS0]] {
// CHECK: dilattn.segment_attention_grad {{.*}} attn_bias(%{{.+}} : memref<?x?xf32, strided<[64, 1], offset: ?>>) grads({{.*}}) scale = 1.250000e-01 output_scale = 5.000000e-01 :
// CHECK: %[[IS1:.+]] = arith.cmpi eq, %[[G]], %{{.+}} : index
// CHECK: scf.if %[[IS1]] {
// CHECK: dilattn.segment_attention_grad {{.*}} attn_bias(%{{.+}} : memref<?x?xf32, strided<[192, 3], offset: ?>>) grads({{.*}}) scale = 1.250000e-01 output_scale = 5.000000e-01 :
func.func @grad_grouped(%q: memref<1x64x3x64xf32>, %lse: memref<1x64x3xf32>, %a: memref<64x64xf32>) {
  dilattn.write_dilated_attention_grad ins(%q, %q, %q, %q, %lse, %q)
      attn_mask(%a : memref<64x64xf32>) outs(%q, %q, %q)
      segment_lengths = [16, 64] dilation_rates = [1, 3]
      : memref<1x64x3x64xf32>, memref<1x64x3x64xf32>, memref<1x64x3x64xf32>, memref<1x64x3x64xf32>, memref<1x64x3xf32>, memref<1x64x3x64xf32>, memref<1x64x3x64xf32>, memref<1x64x3x64xf32>, memref<1x64x3x64xf32>
  return
}
