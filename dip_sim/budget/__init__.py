"""Budget (总额预算): the DIP fund, the fund ratio and the budget point value."""
