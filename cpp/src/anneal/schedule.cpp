// The annealing schedules that run: one table, by start and grid.
#include <limits>
#include <stdexcept>

#include "genomap/anneal.hpp"

namespace genomap {

namespace {

// The grids the schedules tell apart: classes of many pixels (radial rings), one gene per
// pixel (euclidean and user-cost grids) up to kGatherMinGenes - 1 genes, where a proposal reads
// float rows (about 5 us at 64x64), and beyond (40 us per proposal at 100x100).
enum class GridKind { classes, unit, unit_large };

struct Row {
  AnnealStart start;
  GridKind grid;
  int64_t swap_rounds;
  double sa_sweeps, sa_max_work, sa_t_start, sa_t_end;
  int64_t sa_neighbours;
};

// From the annealing benchmark (benchmarks/); the measurements behind each choice are in docs/changelog.md
// (the annealing entries). One gene per pixel: swap partners from all genes, not the 24
// nearest pixels (measured from the exact and multilevel starts only). Multilevel start: no swap
// descent (its exact polish is n x n assignments per step and gained nothing measurable), and
// annealing only where proposals read float rows.
constexpr Row kSchedules[] = {
    // start                grid                swap_rounds sa_sweeps sa_max_work t_start t_end neighbours
    {AnnealStart::exact,      GridKind::classes,    8, 2000.0, 2e9,  0.3, 0.003, 24},
    {AnnealStart::exact,      GridKind::unit,       8, 2000.0, 2e9,  0.3, 0.003, 0},
    {AnnealStart::exact,      GridKind::unit_large, 8, 2000.0, 2e9,  0.3, 0.003, 0},
    {AnnealStart::entropic,   GridKind::classes,    8, 2000.0, 2e9,  0.3, 0.003, 24},
    {AnnealStart::entropic,   GridKind::unit,       8, 2000.0, 2e9,  0.3, 0.003, 24},
    {AnnealStart::entropic,   GridKind::unit_large, 8, 2000.0, 2e9,  0.3, 0.003, 24},
    {AnnealStart::multilevel, GridKind::classes,    0, 0.0,    2e9,  0.1, 0.001, 0},
    {AnnealStart::multilevel, GridKind::unit,       0, 2000.0, 4e10, 0.1, 0.001, 0},
    {AnnealStart::multilevel, GridKind::unit_large, 0, 0.0,    2e9,  0.1, 0.001, 0},
};

GridKind kind_of(const GridCost& grid) {
  if (grid.n_classes != grid.n_used) return GridKind::classes;
  return grid.n_classes < kGatherMinGenes ? GridKind::unit : GridKind::unit_large;
}

}  // namespace

AnnealOptions anneal_schedule(AnnealStart start, const GridCost& grid) {
  const GridKind kind = kind_of(grid);
  for (const Row& r : kSchedules) {
    if (r.start != start || r.grid != kind) continue;
    AnnealOptions o;
    o.entropic_start = start == AnnealStart::entropic;
    o.multilevel_start = start == AnnealStart::multilevel;
    o.swap_rounds = r.swap_rounds;
    o.sa_sweeps = r.sa_sweeps;
    o.sa_max_work = r.sa_max_work;
    o.sa_t_start = r.sa_t_start;
    o.sa_t_end = r.sa_t_end;
    o.sa_neighbours = r.sa_neighbours;
    return o;
  }
  throw std::logic_error("anneal_schedule: no schedule for this start and grid");
}

}  // namespace genomap
