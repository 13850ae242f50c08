!! stilt_arl: filled in by its own work item.
module stilt_arl
    implicit none
    private
end module stilt_arl
