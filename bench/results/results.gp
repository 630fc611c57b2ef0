set terminal pngcairo noenhanced size 900,540
set output 'results.png'
set title 'softfino, 64-byte packets (hugepages, 2 CPUs)'
set xlabel 'worker cores'
set ylabel 'Mpps'
set xrange [0.5:2.5]
set xtics 1
set yrange [0:*]
set key outside right
plot 'results.dat' index 0 with linespoints title 'l3fwd', 'results.dat' index 1 with linespoints title 'l3fwd_trumpet16k', 'results.dat' index 2 with linespoints title 'dta_reporter', 'results.dat' index 3 with linespoints title 'burstradar', 'results.dat' index 4 with linespoints title 'tea_nat', 88.8944635 with lines dashtype 2 title 'testpmd io, 1 core', 11.185638910952477 with lines dashtype 3 title 'OVS-DPDK l3, 1 PMD core'
