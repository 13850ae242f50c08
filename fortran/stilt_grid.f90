!! stilt_grid: filled in by its own work item.
module stilt_grid
    implicit none
    private
end module stilt_grid
