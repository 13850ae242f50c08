!! stilt_footprint: filled in by its own work item.
module stilt_footprint
    implicit none
    private
end module stilt_footprint
